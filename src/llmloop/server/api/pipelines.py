"""/api/v1/pipelines (runs, read) and /api/v1/schedules: what the CLI shows and what the scheduler fires.

Running a pipeline is not a route: it runs in the process that holds the store (``client/pipelines.py``).
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from llmloop.server.deps import CtxDep
from llmloop.server.routes import mount
from llmloop.services.pipelines import service
from llmloop.services.pipelines.definition import PipelineDef
from llmloop.services.pipelines.schemas import PipelineRun, PipelineRunPage
from llmloop.services.schedules import service as schedules
from llmloop.services.schedules.schemas import Schedule, ScheduleCreate, ScheduleList

router = APIRouter(prefix="/pipelines", tags=["pipelines"])
schedules_router = APIRouter(prefix="/schedules", tags=["schedules"])


@mount(router, "pipelines.list")
def list_runs(
    ctx: CtxDep, project: str | None = None, name: str | None = None, limit: int = Query(50, ge=1, le=1000)
) -> PipelineRunPage:
    return service.list_pipeline_runs(
        ctx, project=project or ctx.settings.default_project, name=name, limit=limit
    )


@mount(router, "pipelines.get")
def get_run(ctx: CtxDep, pipeline_run_id: str) -> PipelineRun:
    return service.get_pipeline_run(ctx, run_id=pipeline_run_id)


@mount(router, "pipelines.definition")
def get_definition(ctx: CtxDep, pipeline_run_id: str) -> PipelineDef:
    return service.get_definition(ctx, run_id=pipeline_run_id)


@mount(schedules_router, "schedules.list")
def list_schedules(ctx: CtxDep, project: str | None = None) -> ScheduleList:
    return schedules.list_schedules(ctx, project=project)


@mount(schedules_router, "schedules.create")
def create_schedule(ctx: CtxDep, spec: ScheduleCreate) -> Schedule:
    return schedules.create_schedule(ctx, spec=spec)


@mount(schedules_router, "schedules.delete")
def delete_schedule(ctx: CtxDep, name: str, project: str | None = None) -> None:
    schedules.delete_schedule(ctx, name=name, project=project)
