"""Training through a remote client is refused, and nothing lands in the caller's local store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import LiveServer

import llmloop as ll
from llmloop.config import reset_settings
from llmloop.errors import Unavailable


def test_ll_train_with_a_server_url_refuses_instead_of_writing_a_local_store(
    tiny_config: Callable[..., dict[str, Any]],
    live_server: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    local_home = tmp_path / "caller-home"
    monkeypatch.setenv("LLMLOOP_HOME", str(local_home))
    monkeypatch.setenv("LLMLOOP_SERVER_URL", live_server.url)
    reset_settings()
    with pytest.raises(Unavailable, match="LLMLOOP_SERVER_URL"):
        ll.train(tiny_config())
    assert not (local_home / "llmloop.db").exists()
