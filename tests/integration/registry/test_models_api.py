"""/api/v1/models: server-side paths only inside the import root; errors as the one envelope; no key stored."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text


def test_register_from_the_import_root_only(
    api: Any, ctx: Any, tiny_base: Path, tiny_adapter: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "imports"
    shutil.copytree(tiny_base, root / "base")
    shutil.copytree(tiny_adapter, root / "adapter")
    refused = api.post("/api/v1/models/tiny/versions", params={"project": "p"}, json={"base": str(tiny_base)})
    assert (
        refused.status_code == 403 and "server-side import is disabled" in refused.json()["error"]["message"]
    )
    monkeypatch.setenv("LLMLOOP_DATA_IMPORT_ROOT", str(root))
    outside = api.post("/api/v1/models/tiny/versions", params={"project": "p"}, json={"base": str(tiny_base)})
    assert outside.status_code == 403 and "outside the import root" in outside.json()["error"]["message"]
    escape = api.post("/api/v1/models/tiny/versions", params={"project": "p"}, json={"base": "base/../../x"})
    assert escape.status_code == 403
    base = api.post("/api/v1/models/tiny/versions", params={"project": "p"}, json={"base": "base"})
    assert base.status_code == 201 and base.json()["ref"] == "tiny@1"
    ft = api.post(
        "/api/v1/models/tiny-ft/versions",
        params={"project": "p"},
        json={"base_model": "tiny@1", "adapter_dir": "adapter", "metadata": {"note": "api"}},
    )
    assert (
        ft.status_code == 201
        and ft.json()["adapter"]["rank"] == 4
        and ft.json()["metadata"] == {"note": "api"}
    )
    assert (
        api.get("/api/v1/models/tiny-ft/versions/latest", params={"project": "p"}).json()["id"]
        == ft.json()["id"]
    )


def test_errors_and_upstream_keys(api: Any, ctx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMOL_KEY", "sk-very-secret-value")
    ctx.settings.upstream_env_allow = ["SMOL_KEY"]  # the operator's allow-list (LLMLOOP_UPSTREAM_ENV_ALLOW)
    up = api.post(
        "/api/v1/models/served/versions",
        params={"project": "p"},
        json={"upstream": {"base_url": "http://127.0.0.1:9/v1", "model": "smol", "api_key_env": "SMOL_KEY"}},
    )
    assert up.status_code == 201 and up.json()["upstream"]["api_key_env"] == "SMOL_KEY"
    with ctx.db.connect() as conn:
        dump = " ".join(str(r) for r in conn.execute(text("SELECT * FROM model_versions")))
    assert "sk-very-secret-value" not in dump and "SMOL_KEY" in dump
    key_in_name = api.post(
        "/api/v1/models/served/versions",
        params={"project": "p"},
        json={
            "upstream": {"base_url": "http://127.0.0.1:9/v1", "model": "smol", "api_key_env": "sk-live-abc"}
        },
    )
    assert key_in_name.status_code in (400, 422) and "never put the key itself" in key_in_name.text
    missing = api.get("/api/v1/models/nope/versions/1", params={"project": "p"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad = api.put("/api/v1/models/served/aliases/latest", params={"project": "p"}, json={"version": "1"})
    assert bad.status_code == 400 and "reserved" in bad.json()["error"]["message"]
    ok = api.put(
        "/api/v1/models/served/aliases/prod", params={"project": "p"}, json={"version": "1", "reason": "go"}
    )
    assert ok.status_code == 200 and ok.json()["promoted"] and ok.json()["previous"] is None
    history = api.get("/api/v1/models/served/aliases", params={"project": "p"}).json()["items"]
    assert [(e["alias"], e["to_version"], e["reason"]) for e in history] == [("prod", 1, "go")]
