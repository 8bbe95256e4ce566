"""``client.store``: not ported to the client yet (issue 13); the SDK and CLI still reach it their old way."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from llmloop.client.routes import Route

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context

ROUTES: list[Route] = []


class Store(Protocol):
    """The verbs of ``client.store``."""


class LocalStore:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx


class RemoteStore:
    def __init__(self, http: Http) -> None:
        self.http = http
