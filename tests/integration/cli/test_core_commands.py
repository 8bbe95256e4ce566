"""The CLI: tables, --json twins equal to the API, exit codes and one-line errors on stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import llmloop as ll


def _two_runs() -> tuple[str, str]:
    ids = []
    for lr, loss in [(0.1, 0.9), (0.01, 0.3)]:
        with ll.start_run(project="cli", name=f"lr-{lr}", params={"lr": lr, "bs": 8}) as run:
            run.log_metric("loss", loss)
        ids.append(run.id)
    return ids[0], ids[1]


def test_runs_list_show_compare(cli: Any) -> None:
    a, b = _two_runs()
    out = cli("runs", "list", "--project", "cli")
    assert out.exit_code == 0 and "lr-0.1" in out.stdout and "lr-0.01" in out.stdout
    listed = json.loads(cli("runs", "list", "--json", "--filter", "metrics.loss < 0.5").stdout)
    assert [r["name"] for r in listed["items"]] == ["lr-0.01"]
    shown = cli("runs", "show", a)
    assert shown.exit_code == 0 and "lr" in shown.stdout and "finished" in shown.stdout
    cmp = cli("runs", "compare", a, b)
    assert cmp.exit_code == 0 and "params.lr *" in cmp.stdout and "params.bs " in cmp.stdout
    cmp_json = json.loads(cli("runs", "compare", a, b, "--json").stdout)
    assert [r["params"]["lr"] for r in cmp_json["runs"]] == ["0.1", "0.01"]


def test_show_json_equals_api_body(cli: Any, api: Any) -> None:
    with ll.start_run(project="same", name="x") as run:
        run.log_metric("m", float("nan"))
    cli_json = json.loads(cli("runs", "show", run.id, "--json").stdout)
    assert cli_json == api.get(f"/api/v1/runs/{run.id}").json()
    assert cli_json["metrics"]["m"] == "NaN"


def test_errors_exit_2_with_one_line(cli: Any) -> None:
    out = cli("runs", "show", "does-not-exist")
    assert out.exit_code == 2
    assert out.stderr.strip() == "error: run 'does-not-exist' not found"
    out = cli("runs", "list", "--filter", "nonsense")
    assert out.exit_code == 2 and out.stderr.startswith("error: cannot parse filter clause")
    out = cli("runs", "compare", "only-one")
    assert out.exit_code == 2 and "at least two" in out.stderr


def test_config_show_masks_secrets(cli: Any, monkeypatch: Any) -> None:
    from llmloop.config import reset_settings

    monkeypatch.setenv("LLMLOOP_SERVER_URL", "https://alice:topsecret@example.invalid")
    reset_settings()
    out = cli("config", "show", "--json")
    data = json.loads(out.stdout)
    assert out.exit_code == 0 and "topsecret" not in out.stdout
    assert data["server_url"] == "https://alice:****@example.invalid"


def test_store_verify_reports_corruption(cli: Any, isolated_home: Path, tmp_path: Path) -> None:
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights")
    with ll.start_run(project="v") as run:
        art = run.log_artifact(f)
    ok = cli("store", "verify", "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["checked"] == 1
    blob = isolated_home / "artifacts" / "sha256" / art.sha256[:2] / art.sha256[2:]
    blob.write_bytes(b"bitrot")
    bad = cli("store", "verify")
    assert bad.exit_code == 1 and f"CORRUPTED {art.sha256}" in bad.stdout


def test_serve_refuses_public_bind_without_auth(cli: Any) -> None:
    out = cli("serve", "--host", "0.0.0.0", "--port", "7999")
    assert out.exit_code == 2
    assert "refusing to bind 0.0.0.0" in out.stderr


def test_help_lists_nouns(cli: Any) -> None:
    out = cli("--help")
    assert out.exit_code == 0
    for noun in ("runs", "config", "store", "serve", "quickstart"):
        assert noun in out.stdout
