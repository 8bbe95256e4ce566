"""The artifact store on an S3-compatible server (moto's standalone S3 server on 127.0.0.1), by URL alone."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import free_port

from llmloop.config import reset_settings


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(url, timeout=0.5)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": url,
        "FSSPEC_S3_ENDPOINT_URL": url,
    }.items():
        monkeypatch.setenv(key, value)
    httpx.put(f"{url}/llmloop-test")  # create the bucket
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_runs_log_artifacts_to_s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import llmloop as ll
    from llmloop.context import local_context

    monkeypatch.setenv("LLMLOOP_ARTIFACTS_URL", "s3://llmloop-test/artifacts")
    reset_settings()
    f = tmp_path / "adapter.bin"
    f.write_bytes(b"lora" * 10_000)
    with ll.start_run(project="s3") as run:
        art = run.log_artifact(f)
    store = local_context().artifacts
    assert not store.is_local
    assert store.read_bytes(art.sha256) == f.read_bytes()
    keys = store.fs.find("llmloop-test/artifacts")
    assert any(k.endswith(art.sha256[2:]) for k in keys)
    assert store.verify().ok
