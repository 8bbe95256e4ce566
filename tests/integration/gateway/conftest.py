"""Gateway fixtures: the echo upstream on a real 127.0.0.1 socket, and the app over the test's store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from llmloop.serve.echo_upstream import EchoUpstream, ServerThread
from tests.conftest import free_port


@pytest.fixture(scope="module")
def echo() -> Iterator[tuple[str, EchoUpstream]]:
    """(base URL ending in /v1, the upstream object) of an OpenAI-compatible echo server."""
    upstream = EchoUpstream()
    with ServerThread(upstream.app, free_port()) as srv:
        yield f"{srv.url}/v1", upstream


@pytest.fixture
def gw(api: Any) -> Any:
    """The app (TestClient) whose /v1 the real openai client can drive through ``http_client``."""
    return api


def deploy(client: httpx.Client | Any, name: str, spec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    r = client.post(f"{prefix}/api/v1/deployments", json={"name": name, "spec": spec})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out
