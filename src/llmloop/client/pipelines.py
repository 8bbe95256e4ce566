"""``client.pipelines``: run, resume and read pipelines; ``client.schedules``: their cron triggers.

A pipeline runs in the process that calls ``run`` (its steps on the configured executor: local
subprocesses or Ray tasks) against the configured store, like training does; with
``LLMLOOP_SERVER_URL`` set it is refused with what to do instead, rather than recorded in a
local store the server never sees. Reads (a run, its definition, the runs of a pipeline) and
schedules (stored rows the server's scheduler fires) go through ``/api/v1`` like any noun.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from llmloop.client.routes import Route
from llmloop.errors import Unavailable
from llmloop.services.pipelines.definition import PipelineDef
from llmloop.services.pipelines.schemas import PipelineRun, PipelineRunPage
from llmloop.services.schedules.schemas import Schedule, ScheduleCreate, ScheduleList

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context
    from llmloop.services.pipelines.runner import RunOptions

Source = str | Path | Mapping[str, Any] | PipelineDef

ROUTES = [
    Route("pipelines.list", "GET", "/pipelines/runs", "pipelines:read", PipelineRunPage),
    Route("pipelines.get", "GET", "/pipelines/runs/{pipeline_run_id}", "pipelines:read", PipelineRun),
    Route(
        "pipelines.definition",
        "GET",
        "/pipelines/runs/{pipeline_run_id}/definition",
        "pipelines:read",
        PipelineDef,
    ),
    Route("schedules.list", "GET", "/schedules", "pipelines:read", ScheduleList),
    Route("schedules.create", "POST", "/schedules", "pipelines:write", Schedule, ScheduleCreate, status=201),
    Route("schedules.delete", "DELETE", "/schedules/{name}", "pipelines:write", None, status=204),
]


class Pipelines(Protocol):
    def run(self, source: Source, options: RunOptions | None = None) -> PipelineRun: ...
    def resume(self, run_id: str, options: RunOptions | None = None) -> PipelineRun: ...
    def get_run(self, run_id: str) -> PipelineRun: ...
    def definition(self, run_id: str) -> PipelineDef: ...
    def list_runs(
        self, project: str | None = None, name: str | None = None, limit: int = 50
    ) -> PipelineRunPage: ...


class Schedules(Protocol):
    def create(self, spec: ScheduleCreate) -> Schedule: ...
    def list(self, project: str | None = None) -> ScheduleList: ...
    def delete(self, name: str, project: str | None = None) -> None: ...


class LocalPipelines:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def run(self, source: Source, options: RunOptions | None = None) -> PipelineRun:
        from llmloop.services.pipelines.definition import load_definition
        from llmloop.services.pipelines.runner import run_pipeline

        return run_pipeline(self.ctx, defn=load_definition(source), options=options)

    def resume(self, run_id: str, options: RunOptions | None = None) -> PipelineRun:
        from llmloop.services.pipelines.runner import resume_pipeline

        return resume_pipeline(self.ctx, run_id=run_id, options=options)

    def get_run(self, run_id: str) -> PipelineRun:
        from llmloop.services.pipelines.service import get_pipeline_run

        return get_pipeline_run(self.ctx, run_id=run_id)

    def definition(self, run_id: str) -> PipelineDef:
        from llmloop.services.pipelines.service import get_definition

        return get_definition(self.ctx, run_id=run_id)

    def list_runs(
        self, project: str | None = None, name: str | None = None, limit: int = 50
    ) -> PipelineRunPage:
        from llmloop.services.pipelines.service import list_pipeline_runs

        project = project or self.ctx.settings.default_project
        return list_pipeline_runs(self.ctx, project=project, name=name, limit=limit)


class LocalSchedules:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def create(self, spec: ScheduleCreate) -> Schedule:
        from llmloop.services.schedules.service import create_schedule

        return create_schedule(self.ctx, spec=spec)

    def list(self, project: str | None = None) -> ScheduleList:
        from llmloop.services.schedules.service import list_schedules

        return list_schedules(self.ctx, project=project)

    def delete(self, name: str, project: str | None = None) -> None:
        from llmloop.services.schedules.service import delete_schedule

        delete_schedule(self.ctx, name=name, project=project)


_REMOTE = (
    "pipelines run in the process that holds the store (their steps on the configured executor), and "
    "LLMLOOP_SERVER_URL points at a server: run it on the server's machine, or unset LLMLOOP_SERVER_URL "
    "and point LLMLOOP_DATABASE_URL / LLMLOOP_ARTIFACTS_URL at the server's store"
)


class RemotePipelines:
    """Reads through ``/api/v1/pipelines``; running and resuming happen where the store is (``_REMOTE``)."""

    def __init__(self, http: Http) -> None:
        self.http = http

    def run(self, source: Source, options: RunOptions | None = None) -> PipelineRun:
        raise Unavailable(_REMOTE, details={"server": self.http.base})

    def resume(self, run_id: str, options: RunOptions | None = None) -> PipelineRun:
        raise Unavailable(_REMOTE, details={"server": self.http.base})

    def get_run(self, run_id: str) -> PipelineRun:
        out: PipelineRun = self.http.call("pipelines.get", path={"pipeline_run_id": run_id})
        return out

    def definition(self, run_id: str) -> PipelineDef:
        out: PipelineDef = self.http.call("pipelines.definition", path={"pipeline_run_id": run_id})
        return out

    def list_runs(
        self, project: str | None = None, name: str | None = None, limit: int = 50
    ) -> PipelineRunPage:
        out: PipelineRunPage = self.http.call(
            "pipelines.list", query={"project": project, "name": name, "limit": limit}
        )
        return out


class RemoteSchedules:
    def __init__(self, http: Http) -> None:
        self.http = http

    def create(self, spec: ScheduleCreate) -> Schedule:
        out: Schedule = self.http.call("schedules.create", body=spec)
        return out

    def list(self, project: str | None = None) -> ScheduleList:
        out: ScheduleList = self.http.call("schedules.list", query={"project": project})
        return out

    def delete(self, name: str, project: str | None = None) -> None:
        self.http.call("schedules.delete", path={"name": name}, query={"project": project})
