"""Parity harness: the same call through ``LocalClient`` and through ``RemoteClient`` over one store.

``pair`` starts a real ``llmloop serve`` on 127.0.0.1 over the test's home and gives a local client
on that same home, so both clients see the same objects: a read through either must return equal
JSON, and a bad input must raise the same exception class. One server per module keeps it quick.

Each ``test_parity_<noun>.py`` module declares ``COVERED``: the route names its tests call through
both clients; ``test_route_table.py`` fails while a route in the table is in no module's ``COVERED``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from tests.conftest import serving_llmloop

from llmloop.client import LocalClient, RemoteClient
from llmloop.config import Settings


@dataclass
class Pair:
    local: LocalClient
    remote: RemoteClient
    home: Path
    url: str

    def both(self, call: Callable[[Any], Any]) -> tuple[Any, Any]:
        """``call(local)`` and ``call(remote)``, as JSON-ready values."""
        return jsonable(call(self.local)), jsonable(call(self.remote))

    def same(self, call: Callable[[Any], Any]) -> Any:
        """Assert ``call`` answers the same through both clients; return that answer."""
        a, b = self.both(call)
        assert a == b
        return a

    def same_error(self, call: Callable[[Any], Any]) -> type[BaseException]:
        """Assert ``call`` raises the same exception class (and code) through both clients."""
        errors = []
        for client in (self.local, self.remote):
            with pytest.raises(Exception) as err:
                call(client)
            errors.append(err.value)
        assert type(errors[0]) is type(errors[1]), errors
        assert getattr(errors[0], "code", None) == getattr(errors[1], "code", None)
        return type(errors[0])


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """A module may declare ``SERVER_ENV`` (e.g. a master key) for its server; nothing else leaks in."""
    home = tmp_path_factory.mktemp("parity-home")
    with serving_llmloop(home, getattr(request.module, "SERVER_ENV", {})) as server:
        local = LocalClient(Settings(home=home))  # type: ignore[call-arg]
        remote = RemoteClient(Settings(home=home, server_url=server.url))  # type: ignore[call-arg]
        try:
            yield Pair(local, remote, home, server.url)
        finally:
            remote.http.close()
