"""/api/v1/deployments: create revisions, read, list, roll back (deployments:read / deployments:write)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from llmloop.server.auth import permission
from llmloop.server.deps import CtxDep
from llmloop.services.serve import service
from llmloop.services.serve.schemas import Deployment, DeploymentCreate, DeploymentPage, RollbackRequest

router = APIRouter(prefix="/deployments", tags=["deployments"])


def _forget_routes(request: Request) -> None:
    gw = getattr(request.app.state, "gateway", None)
    if gw is not None:
        gw.forget_routes()


@router.post("", response_model=Deployment, status_code=201, openapi_extra=permission("deployments:write"))
def create_deployment(ctx: CtxDep, spec: DeploymentCreate, request: Request) -> Deployment:
    out = service.create_deployment(ctx, spec=spec)
    _forget_routes(request)
    return out


@router.get("", response_model=DeploymentPage, openapi_extra=permission("deployments:read"))
def list_deployments(ctx: CtxDep, project: str | None = None) -> DeploymentPage:
    return service.list_deployments(ctx, project=project)


@router.get("/{name}", response_model=Deployment, openapi_extra=permission("deployments:read"))
def get_deployment(
    ctx: CtxDep, name: str, project: str | None = None, revision: int | None = None
) -> Deployment:
    return service.get_deployment(ctx, name=name, project=project, revision=revision)


@router.get("/{name}/revisions", openapi_extra=permission("deployments:read"))
def list_revisions(ctx: CtxDep, name: str, project: str | None = None) -> dict[str, Any]:
    items = service.list_deployment_revisions(ctx, name=name, project=project)
    return {"items": [d.model_dump(mode="json") for d in items]}


@router.post(
    "/{name}/rollback",
    response_model=Deployment,
    status_code=201,
    openapi_extra=permission("deployments:write"),
)
def rollback_deployment(ctx: CtxDep, name: str, body: RollbackRequest, request: Request) -> Deployment:
    out = service.rollback_deployment(ctx, name=name, project=body.project, to_revision=body.to_revision)
    _forget_routes(request)
    return out
