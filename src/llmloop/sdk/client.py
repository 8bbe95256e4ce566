"""The ``Client`` protocol: one interface, two implementations.

``LocalClient`` calls the services on the embedded store; ``RemoteClient`` calls
``/api/v1`` on ``LLMLOOP_SERVER_URL``. Both take and return the same Pydantic schemas
and raise the same error classes, so code above them cannot tell which it has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from llmloop.config import Settings, get_settings
from llmloop.tracking.schemas import MetricPoint, Run, RunArtifact, RunBatch, RunCreate, RunPage, RunSearch


class Client(Protocol):
    def create_run(self, spec: RunCreate) -> Run: ...
    def log_batch(self, run_id: str, batch: RunBatch) -> None: ...
    def get_run(self, run_id: str) -> Run: ...
    def search_runs(self, query: RunSearch) -> RunPage: ...
    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]: ...
    def log_artifact(self, run_id: str, path: Path, name: str | None = None) -> RunArtifact: ...
    def download_artifact(self, run_id: str, name: str, dest: Path) -> Path: ...


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
    client: Client
    if settings.server_url:
        from llmloop.sdk.remote import RemoteClient

        client = RemoteClient(settings)
    else:
        from llmloop.sdk.local import LocalClient

        client = LocalClient(settings)
    _last = (settings, client)
    return client
