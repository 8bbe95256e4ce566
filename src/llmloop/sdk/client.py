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


def get_client(settings: Settings | None = None) -> Client:
    settings = settings or get_settings()
    if settings.server_url:
        from llmloop.sdk.remote import RemoteClient

        return RemoteClient(settings)
    from llmloop.sdk.local import LocalClient

    return LocalClient(settings)
