"""/api/v1/audit: read the audit log and check its hash chain (a broken chain is a 200 verdict)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from llmloop.security import audit as service
from llmloop.security.schemas import AuditEvent, AuditVerifyReport
from llmloop.server.deps import CtxDep
from llmloop.server.routes import mount

router = APIRouter(prefix="/audit", tags=["audit"])


@mount(router, "audit.list")
def list_events(
    ctx: CtxDep,
    actor: str | None = Query(None, max_length=128),
    action: str | None = Query(None, max_length=64),
    project: str | None = Query(None, max_length=128),
    since: float | None = Query(None, description="Unix seconds."),
    limit: int = Query(100, ge=1, le=10000),
) -> list[AuditEvent]:
    return service.list_events(ctx, actor=actor, action=action, project=project, since=since, limit=limit)


@mount(router, "audit.verify")
def verify(ctx: CtxDep) -> AuditVerifyReport:
    return service.verify_chain(ctx)
