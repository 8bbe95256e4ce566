"""``client.runs``: the tracking service (runs, metrics, artifacts), in-process or over ``/api/v1/runs``."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from llmloop.client.routes import Route
from llmloop.errors import Conflict, InvalidInput, LlmloopError, NotFound, PermissionDenied
from llmloop.services.tracking.schemas import (
    MetricHistory,
    MetricPoint,
    Run,
    RunArtifact,
    RunBatch,
    RunCreate,
    RunPage,
    RunSearch,
)

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context

HOLD_SECONDS = 60  # one hold request's length; the client opens the next one as it ends

ROUTES = [
    Route("runs.create", "POST", "/runs", "runs:write", Run, RunCreate, status=201),
    Route("runs.list", "GET", "/runs", "runs:read", RunPage),
    Route("runs.search", "POST", "/runs/search", "runs:read", RunPage, RunSearch),
    Route("runs.get", "GET", "/runs/{run_id}", "runs:read", Run),
    Route("runs.log_batch", "POST", "/runs/{run_id}/batch", "runs:write", None, RunBatch, status=204),
    Route("runs.metric_history", "GET", "/runs/{run_id}/metrics/{key:path}", "runs:read", MetricHistory),
    Route(
        "runs.upload_artifact", "PUT", "/runs/{run_id}/artifacts/{name:path}", "artifacts:write", RunArtifact
    ),
    Route("runs.download_artifact", "GET", "/runs/{run_id}/artifacts/{name:path}", "artifacts:read"),
    Route(
        "runs.hold",
        "POST",
        "/runs/{run_id}/hold",
        "runs:write",
        summary="Hold the run for up to `seconds` (a byte every second); dropping the hold kills the run.",
    ),
]


class Runs(Protocol):
    def create_run(self, spec: RunCreate) -> Run: ...
    def log_batch(self, run_id: str, batch: RunBatch) -> None: ...
    def get_run(self, run_id: str) -> Run: ...
    def search_runs(self, query: RunSearch) -> RunPage: ...
    def list_runs(
        self,
        project: str | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> RunPage: ...
    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]: ...
    def log_artifact(self, run_id: str, path: Path, name: str | None = None) -> RunArtifact: ...
    def download_artifact(self, run_id: str, name: str, dest: Path) -> Path: ...
    def hold(self, run_id: str) -> Hold: ...


class Hold(Protocol):
    """What keeps a run alive on the server while this process lives; ``release`` after it ends."""

    def release(self) -> None: ...


class _NoHold:
    """In-process runs need none: their row names this process, whose death is seen by pid."""

    def release(self) -> None:
        return None


class _ConnectionHold:
    """A thread that keeps ``POST /runs/{id}/hold`` open, again and again, until released or the run ends."""

    def __init__(self, http: Http, run_id: str) -> None:
        self.http = http
        self.run_id = run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._hold, name=f"llmloop-hold-{run_id[:8]}", daemon=True)
        self._thread.start()

    def _hold(self) -> None:
        import httpx

        while not self._stop.is_set():
            try:
                with self.http.stream(
                    "runs.hold", path={"run_id": self.run_id}, query={"seconds": HOLD_SECONDS}
                ) as resp:
                    for _ in resp.iter_bytes():
                        if self._stop.is_set():
                            return
            except (Conflict, NotFound, PermissionDenied):
                return  # the run has ended, is gone, or is not ours to hold
            except (LlmloopError, httpx.HTTPError):
                self._stop.wait(0.5)  # the server is unreachable: try again, within its grace

    def release(self) -> None:
        self._stop.set()


class LocalRuns:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def create_run(self, spec: RunCreate) -> Run:
        from llmloop.services.tracking import service

        return service.create_run(self.ctx, spec=spec)

    def log_batch(self, run_id: str, batch: RunBatch) -> None:
        from llmloop.services.tracking import service

        service.log_batch(self.ctx, run_id=run_id, batch=batch)

    def get_run(self, run_id: str) -> Run:
        from llmloop.services.tracking import service

        return service.get_run(self.ctx, run_id=run_id)

    def search_runs(self, query: RunSearch) -> RunPage:
        from llmloop.services.tracking import service

        return service.search_runs(self.ctx, query=query)

    def list_runs(
        self,
        project: str | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> RunPage:
        query = RunSearch(
            project=project, filter=filter, order_by=order_by or [], limit=limit, page_token=page_token
        )
        return self.search_runs(query)

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        from llmloop.services.tracking import service

        return service.metric_history(self.ctx, run_id=run_id, key=key)

    def log_artifact(self, run_id: str, path: Path, name: str | None = None) -> RunArtifact:
        from llmloop.services.tracking import service

        return service.log_artifact(self.ctx, run_id=run_id, path=path, name=name)

    def download_artifact(self, run_id: str, name: str, dest: Path) -> Path:
        from llmloop.services.tracking import service

        art = service.artifact_of(self.ctx, run_id=run_id, name=name)
        return self.ctx.artifacts.get_file(art.sha256, dest)

    def hold(self, run_id: str) -> Hold:
        return _NoHold()


class RemoteRuns:
    def __init__(self, http: Http) -> None:
        self.http = http

    def create_run(self, spec: RunCreate) -> Run:
        run: Run = self.http.call("runs.create", body=spec)
        return run

    def log_batch(self, run_id: str, batch: RunBatch) -> None:
        self.http.call("runs.log_batch", path={"run_id": run_id}, body=batch)

    def get_run(self, run_id: str) -> Run:
        run: Run = self.http.call("runs.get", path={"run_id": run_id})
        return run

    def search_runs(self, query: RunSearch) -> RunPage:
        page: RunPage = self.http.call("runs.search", body=query)
        return page

    def list_runs(
        self,
        project: str | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> RunPage:
        query = {
            "project": project,
            "filter": filter,
            "order_by": order_by or [],
            "limit": limit,
            "page_token": page_token,
        }
        page: RunPage = self.http.call("runs.list", query=query)
        return page

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        history: MetricHistory = self.http.call("runs.metric_history", path={"run_id": run_id, "key": key})
        return history.items

    def log_artifact(self, run_id: str, path: Path, name: str | None = None) -> RunArtifact:
        p = Path(path)
        if not p.is_file():
            raise InvalidInput(f"artifact file not found: {p}", details={"path": str(p)})
        with p.open("rb") as fh:
            art: RunArtifact = self.http.call(
                "runs.upload_artifact", path={"run_id": run_id, "name": name or p.name}, content=fh
            )
        return art

    def download_artifact(self, run_id: str, name: str, dest: Path) -> Path:
        return self.http.download("runs.download_artifact", dest, path={"run_id": run_id, "name": name})

    def hold(self, run_id: str) -> Hold:
        return _ConnectionHold(self.http, run_id)
