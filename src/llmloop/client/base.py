"""``Client``, its two implementations, and ``get_client``, which picks one from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmloop.client.runs import LocalRuns, RemoteRuns, Runs
from llmloop.config import Settings, get_settings

if TYPE_CHECKING:
    import httpx

    from llmloop.context import Context


class Client:
    """One sub-API per noun. Code above the client holds a ``Client`` and never asks which kind."""

    runs: Runs
    remote: bool = False


class LocalClient(Client):
    """The services of the configured store, called in this process as the local actor."""

    def __init__(self, settings: Settings | None = None, ctx: Context | None = None) -> None:
        from llmloop.context import local_context

        self.ctx = ctx or local_context(settings)
        self.runs = LocalRuns(self.ctx)


class RemoteClient(Client):
    """A server's ``/api/v1``, with the credentials of ``settings``."""

    remote = True

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        from llmloop.client.http import Http

        self.http = Http(settings, transport=transport)
        self.runs = RemoteRuns(self.http)


_last: tuple[Settings, Client] | None = None


def get_client(settings: Settings | None = None) -> Client:
    """The client for ``settings`` (default: the current ones), reused while they stay the same.

    Reuse matters: a remote client holds a pooled HTTP connection, and building one per
    ``start_run`` or search cost more than the request itself.
    """
    global _last
    settings = settings or get_settings()
    last = _last
    if last is not None and last[0] is settings:
        return last[1]
    client: Client = RemoteClient(settings) if settings.server_url else LocalClient(settings)
    _last = (settings, client)
    return client
