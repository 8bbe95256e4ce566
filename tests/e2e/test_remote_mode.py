"""The SDK against a real ``llmloop serve`` subprocess: same results and errors as local mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

import llmloop as ll
from llmloop.config import reset_settings
from llmloop.errors import InvalidInput, NotFound


@pytest.fixture
def remote(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("LLMLOOP_SERVER_URL", live_server.url)
    reset_settings()
    return live_server


def test_sdk_logs_and_reads_over_http(remote: Any, tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("hello artifact")
    with ll.start_run(project="remote", name="r1", params={"lr": 0.1}) as run:
        for step in range(50):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metric("div", float("inf"))
        run.log_artifact(f, name="docs/notes.txt")
    got = ll.get_run(run.id)
    assert got.status == "finished" and got.params == {"lr": "0.1"}
    assert len(got.metric_history("loss")) == 50
    assert got.metrics["div"] == float("inf")
    dest = ll.get_client().runs.download_artifact(run.id, "docs/notes.txt", tmp_path / "back.txt")
    assert dest.read_text() == "hello artifact"
    assert [r.name for r in ll.search_runs(project="remote", filter="metrics.loss < 0.05")] == ["r1"]


def test_remote_errors_are_the_local_classes(remote: Any) -> None:
    with pytest.raises(NotFound, match="nope"):
        ll.get_run("nope")
    with pytest.raises(InvalidInput, match="cannot parse filter"):
        ll.search_runs(filter="metrics.x ~~ 3")


def test_api_envelope_and_openapi(remote: Any) -> None:
    r = httpx.get(f"{remote.url}/api/v1/runs/unknown")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = httpx.post(
        f"{remote.url}/api/v1/runs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_input"
    r = httpx.put(f"{remote.url}/api/v1/runs/x/artifacts/..%2F..%2Fetc%2Fpasswd", content=b"x")
    assert r.status_code in (400, 404)
    spec = httpx.get(f"{remote.url}/api/v1/openapi.json").json()
    assert "/api/v1/runs" in spec["paths"]
