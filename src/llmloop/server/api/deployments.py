"""/api/v1/deployments: create revisions, read, list, roll back, live figures per target
(deployments:read / deployments:write)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from llmloop.server.deps import CtxDep
from llmloop.server.routes import mount
from llmloop.services.serve import live, service
from llmloop.services.serve.schemas import (
    Deployment,
    DeploymentCreate,
    DeploymentPage,
    DeploymentStatus,
    RollbackRequest,
)

router = APIRouter(prefix="/deployments", tags=["deployments"])


def _forget_routes(request: Request) -> None:
    gw = getattr(request.app.state, "gateway", None)
    if gw is not None:
        gw.forget_routes()


@mount(router, "deployments.create")
def create_deployment(ctx: CtxDep, spec: DeploymentCreate, request: Request) -> Deployment:
    out = service.create_deployment(ctx, spec=spec)
    _forget_routes(request)
    return out


@mount(router, "deployments.list")
def list_deployments(ctx: CtxDep, project: str | None = None) -> DeploymentPage:
    return service.list_deployments(ctx, project=project)


@mount(router, "deployments.get")
def get_deployment(
    ctx: CtxDep, name: str, project: str | None = None, revision: int | None = None
) -> Deployment:
    return service.get_deployment(ctx, name=name, project=project, revision=revision)


@mount(router, "deployments.revisions")
def list_revisions(ctx: CtxDep, name: str, project: str | None = None) -> DeploymentPage:
    return DeploymentPage(items=service.list_deployment_revisions(ctx, name=name, project=project))


@mount(router, "deployments.status")
def deployment_status(
    ctx: CtxDep, name: str, project: str | None = None, since: float | None = None
) -> DeploymentStatus:
    return live.deployment_status(ctx, name=name, project=project, since=since)


@mount(router, "deployments.rollback")
def rollback_deployment(ctx: CtxDep, name: str, body: RollbackRequest, request: Request) -> Deployment:
    out = service.rollback_deployment(ctx, name=name, project=body.project, to_revision=body.to_revision)
    _forget_routes(request)
    return out
