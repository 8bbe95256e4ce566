"""/api/v1/privacy: retention per project, purge past it, erasure of one person's data (admins)."""

from __future__ import annotations

from fastapi import APIRouter

from llmloop.server.deps import CtxDep
from llmloop.server.routes import mount
from llmloop.services.privacy import service
from llmloop.services.privacy.schemas import (
    EraseReport,
    EraseRequest,
    PurgeReport,
    RetentionPolicy,
    RetentionSet,
)

router = APIRouter(prefix="/privacy", tags=["privacy"])


@mount(router, "privacy.get_retention")
def get_retention(ctx: CtxDep, project: str) -> RetentionPolicy:
    return service.get_retention(ctx, project=project)


@mount(router, "privacy.set_retention")
def set_retention(ctx: CtxDep, project: str, body: RetentionSet) -> RetentionPolicy:
    return service.set_retention(ctx, project=project, kind=body.kind, days=body.days)


@mount(router, "privacy.purge")
def purge(ctx: CtxDep) -> PurgeReport:
    return service.purge(ctx)


@mount(router, "privacy.erase")
def erase(ctx: CtxDep, body: EraseRequest) -> EraseReport:
    return service.erase_subject(ctx, subject=body.user_id)
