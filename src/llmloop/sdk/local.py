"""The client for the embedded store: a thin pass-through to the services."""

from __future__ import annotations

from pathlib import Path

from llmloop.config import Settings
from llmloop.context import Context, local_context
from llmloop.tracking import service
from llmloop.tracking.schemas import MetricPoint, Run, RunArtifact, RunBatch, RunCreate, RunPage, RunSearch


class LocalClient:
    def __init__(self, settings: Settings | None = None, ctx: Context | None = None) -> None:
        self.ctx = ctx or local_context(settings)

    def create_run(self, spec: RunCreate) -> Run:
        return service.create_run(self.ctx, spec=spec)

    def log_batch(self, run_id: str, batch: RunBatch) -> None:
        service.log_batch(self.ctx, run_id=run_id, batch=batch)

    def get_run(self, run_id: str) -> Run:
        return service.get_run(self.ctx, run_id=run_id)

    def search_runs(self, query: RunSearch) -> RunPage:
        return service.search_runs(self.ctx, query=query)

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        return service.metric_history(self.ctx, run_id=run_id, key=key)

    def log_artifact(self, run_id: str, path: Path, name: str | None = None) -> RunArtifact:
        return service.log_artifact(self.ctx, run_id=run_id, path=path, name=name)

    def download_artifact(self, run_id: str, name: str, dest: Path) -> Path:
        art = service.artifact_of(self.ctx, run_id=run_id, name=name)
        return self.ctx.artifacts.get_file(art.sha256, dest)
