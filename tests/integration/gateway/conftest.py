"""Gateway fixtures: the fake OpenAI upstream on a real 127.0.0.1 socket, and the app over the test's store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.fakes.openai_server import FakeOpenAI, serving
from tests.model_fixtures import (  # noqa: F401  (registered-model tests)
    smollm2_digest,
    smollm2_gguf,
    smollm2_hf_dir,
    tiny_llama_dir,
)


@pytest.fixture(scope="module")
def echo() -> Iterator[tuple[str, FakeOpenAI]]:
    """(base URL ending in /v1, the server object) of the fake OpenAI server, which echoes."""
    with serving() as fake:
        yield fake.url, fake


@pytest.fixture
def gw(isolated_home: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The app on SQLite (TestClient) whose /v1 the real openai client drives through ``http_client``.

    The store-specific behaviour is covered on both backends by the service tests and by
    ``test_feedback_attaches_to_trace`` (which uses ``api``); these tests are about HTTP.
    """
    from fastapi.testclient import TestClient

    from llmloop.config import reset_settings
    from llmloop.context import local_context
    from llmloop.server.app import create_app

    monkeypatch.setenv("LLMLOOP_DATABASE_URL", f"sqlite:///{isolated_home / 'llmloop.db'}")
    reset_settings()
    ctx = local_context()
    with TestClient(create_app(ctx)) as client:
        yield client
    flush_for(ctx)


def flush_for(ctx: Any) -> None:
    """Write every span the app queued (tests read traces right away; the server would within a second)."""
    from llmloop.services.observe.tracer import writer_for

    writer_for(ctx).flush()


def deploy(client: httpx.Client | Any, name: str, spec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    r = client.post(f"{prefix}/api/v1/deployments", json={"name": name, "spec": spec})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out
