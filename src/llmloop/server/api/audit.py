"""/api/v1/audit: read the audit log and check its hash chain (a broken chain is a 200 verdict)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from llmloop.security import audit as service
from llmloop.security.schemas import AuditEvent, AuditVerifyReport
from llmloop.server.auth import permission
from llmloop.server.deps import CtxDep

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[AuditEvent], openapi_extra=permission("audit:read"))
def list_events(
    ctx: CtxDep,
    actor: str | None = Query(None, max_length=128),
    action: str | None = Query(None, max_length=64),
    project: str | None = Query(None, max_length=128),
    since: float | None = Query(None, description="Unix seconds."),
    limit: int = Query(100, ge=1, le=10000),
) -> list[AuditEvent]:
    return service.list_events(ctx, actor=actor, action=action, project=project, since=since, limit=limit)


@router.post("/verify", response_model=AuditVerifyReport, openapi_extra=permission("audit:read"))
def verify(ctx: CtxDep) -> AuditVerifyReport:
    return service.verify_chain(ctx)
