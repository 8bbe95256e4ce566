"""A seeded store on SQLite and the app over it, shared by the UI's in-process tests.

The UI is a view over the API, so one backend is enough here: the services under it are
tested on both. The seed is built once per module (it takes about a second).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.fakes.openai_server import serving
from tests.integration.ui.seed import Loop, seed_loop

from llmloop.config import reset_settings


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Loop]]:
    """(ctx, loop) over a store of its own; the fake upstreams live as long as the module."""
    from llmloop.context import local_context

    home = tmp_path_factory.mktemp("ui-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("LLMLOOP_HOME", str(home))
    mp.setenv("LLMLOOP_DATABASE_URL", f"sqlite:///{home / 'llmloop.db'}")
    reset_settings()
    with serving() as good, serving() as flaky:
        ctx = local_context()
        yield ctx, seed_loop(ctx, home, good, flaky)
    mp.undo()
    reset_settings()


@pytest.fixture
def ui(seeded: tuple[Any, Loop]) -> Iterator[TestClient]:
    """The app over the seeded store, in local single-user mode (no user exists)."""
    from llmloop.server.app import create_app

    with TestClient(create_app(seeded[0])) as client:
        yield client
