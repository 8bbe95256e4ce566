"""``llmloop data`` and ``/api/v1/datasets`` over the same store: exit codes, stderr lines, routes, JSON parity."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "data"
PII_KINDS = {"email", "phone", "credit_card", "iban", "ip", "national_id", "secret"}


def test_cli_add_list_show_and_json_parity_with_the_api(cli: Any, api: Any) -> None:
    r = cli("data", "add", "travel", str(FIXTURES / "chat.jsonl"))
    assert r.exit_code == 0 and r.stdout.startswith("added travel@1: 4 rows, chat")
    r = cli("data", "add", "travel", str(FIXTURES / "chat.jsonl"))
    assert r.exit_code == 0 and "travel@1 already holds this content: nothing new added" in r.stdout
    listed = json.loads(cli("data", "list", "--json").stdout)
    assert [(d["name"], d["latest_version"]) for d in listed["items"]] == [("travel", 1)]
    shown = json.loads(cli("data", "show", "travel@1", "--json").stdout)
    assert shown == api.get("/api/v1/datasets/travel", params={"version": "1"}).json()
    assert set(shown["version"]["profile"]["pii"]) == PII_KINDS
    assert set(shown["version"]["profile"]["fields"]["messages.user"]["pii"]) == PII_KINDS
    assert [v["version"] for v in shown["versions"]] == [1]
    table = cli("data", "show", "travel")
    assert table.exit_code == 0 and "messages.user" in table.stdout and "duplicates:" in table.stdout


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("malformed.jsonl", "malformed.jsonl:3: malformed JSON"),
        ("wrong_type.jsonl", "wrong_type.jsonl:2: field 'completion' must be a string, got number"),
        ("broken_quote.csv", "broken_quote.csv:3: a quoted field starting on this line is never closed"),
    ],
)
def test_cli_bad_file_is_one_error_line_and_exit_2(cli: Any, name: str, line: str) -> None:
    r = cli("data", "add", "travel", str(FIXTURES / name))
    assert r.exit_code == 2
    assert r.stderr.startswith("error: ") and line in r.stderr and r.stderr.count("\n") == 1
    assert json.loads(cli("data", "list", "--json").stdout) == {"items": []}


def test_cli_pii_warn_and_block(cli: Any) -> None:
    r = cli("data", "add", "people", str(FIXTURES / "pii.jsonl"), "--pii", "block")
    assert r.exit_code == 2 and "PII found (1 email, 1 phone" in r.stderr
    r = cli("data", "add", "people", str(FIXTURES / "pii.jsonl"))
    assert r.exit_code == 0 and "warning: PII found in people@1: 1 email" in r.stderr
    r = cli("data", "redact", "people@1")
    assert r.exit_code == 0 and "people@2" in r.stdout and r.stderr == ""


def test_cli_map_skip_diff_split_alias_export_leakage(cli: Any, tmp_path: Path) -> None:
    r = cli(
        "data",
        "add",
        "qa",
        str(FIXTURES / "questions.csv"),
        "--map",
        "question=prompt",
        "--map",
        "answer=completion",
    )
    assert r.exit_code == 0, r.stderr
    r = cli("data", "add", "qa", str(FIXTURES / "malformed.jsonl"), "--skip-invalid", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["version"]["invalid_rows"] == 1
    assert "warning: skipped 1 invalid rows" in r.stderr
    d = json.loads(cli("data", "diff", "qa@1", "qa@2", "--json").stdout)
    assert (d["added"], d["removed"]) == (3, 2)
    r = cli("data", "split", "qa@1", "--fractions", "train=0.5,test=0.5", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["versions"][0]["ref"] == "qa@3"
    assert cli("data", "split", "qa@1", "--fractions", "train=2").exit_code == 2
    assert cli("data", "alias", "qa@3", "prod").stdout.strip() == "qa@prod → qa@3"
    out = tmp_path / "qa.jsonl"
    assert cli("data", "export", "qa@prod", str(out), "--split", "train").exit_code == 0
    assert out.read_text().count("\n") >= 1
    r = cli("data", "leakage", "qa@1", "qa@3")
    assert r.exit_code == 1 and "also in qa@1: 2 exact" in r.stdout
    assert cli("data", "show", "qa@nope").exit_code == 2


def test_api_upload_reupload_and_read(api: Any) -> None:
    body = (FIXTURES / "eval.jsonl").read_bytes()
    r = api.post("/api/v1/datasets/evals/versions", params={"filename": "eval.jsonl"}, content=body)
    assert r.status_code == 201 and r.json()["version"]["source"] == "eval.jsonl"
    r = api.post("/api/v1/datasets/evals/versions", params={"filename": "eval.jsonl"}, content=body)
    assert r.status_code == 200 and r.json()["created"] is False
    v = api.get("/api/v1/datasets/evals/versions/latest").json()
    assert (v["kind"], v["rows"]) == ("eval", 3)
    assert api.get("/api/v1/datasets/evals/versions/1/profile").json()["rows"] == 3
    rows = api.get("/api/v1/datasets/evals/versions/1/rows", params={"offset": 1, "limit": 1}).json()
    assert rows["total"] == 3 and rows["items"] == [
        {"input": "Recommend a winter sun destination in Asia.", "reference": "Phuket",
         "metadata": {"difficulty": "easy", "region": "asia"}}
    ]  # fmt: skip
    data = api.get("/api/v1/datasets/evals/versions/1/data")
    assert data.headers["x-llmloop-sha256"] == v["data_sha256"]
    assert pq.read_table(io.BytesIO(data.content)).num_rows == 3
    png = api.get("/api/v1/datasets/evals/versions/1/profile.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert api.get("/api/v1/datasets", params={"project": "default"}).json()["items"][0]["name"] == "evals"


def test_api_errors_name_the_uploaded_file(api: Any) -> None:
    r = api.post("/api/v1/datasets/bad/versions", params={"filename": "mine.jsonl"},
                 content=(FIXTURES / "malformed.jsonl").read_bytes())  # fmt: skip
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "invalid_input" and err["message"].startswith("mine.jsonl:3: malformed JSON")
    assert err["details"] == {"file": "mine.jsonl", "line": 3}
    assert api.get("/api/v1/datasets/bad/versions/1").status_code == 404
    r = api.post("/api/v1/datasets/bad/versions/import", json={"path": "/etc/passwd"})
    assert r.status_code == 403 and "disabled" in r.json()["error"]["message"]
    r = api.post(
        "/api/v1/datasets/bad/versions", params={"filename": "x.jsonl", "map": "nonsense"}, content=b""
    )
    assert r.status_code == 400 and r.json()["error"]["details"] == {"field": "map"}


def test_api_derive_routes(api: Any) -> None:
    api.post(
        "/api/v1/datasets/p/versions",
        params={"filename": "pii.jsonl"},
        content=(FIXTURES / "pii.jsonl").read_bytes(),
    )
    r = api.post("/api/v1/datasets/p/versions/1/redact", json={"kinds": ["email"]})
    assert r.status_code == 201 and r.json()["version"]["profile"]["pii"]["email"] == 0
    assert r.json()["version"]["profile"]["pii"]["phone"] == 1
    r = api.post("/api/v1/datasets/p/versions/2/split", json={"fractions": {"a": 0.5, "b": 0.5}, "seed": 3})
    assert r.status_code == 201 and sum(r.json()["counts"].values()) == 5
    assert api.put("/api/v1/datasets/p/aliases/clean", json={"version": "2"}).json()["aliases"] == ["clean"]
    d = api.get("/api/v1/datasets/p/diff", params={"a": "1", "b": "clean"}).json()
    assert (d["added"], d["removed"], d["changed"], d["unchanged"]) == (1, 1, 0, 4)  # text rows have no key
    r = api.post("/api/v1/datasets/p/versions/1/split", json={"fractions": {"a": 0.7}})
    assert r.status_code == 400 and "sum to 1" in r.json()["error"]["message"]
