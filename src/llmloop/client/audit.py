"""``client.audit``: read the tamper-evident audit log and check its chain, in-process or over ``/api/v1/audit``.

A broken chain is a verdict (``AuditVerifyReport.ok`` false), not an error, through both doors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from llmloop.client.routes import Route
from llmloop.security.schemas import AuditEvent, AuditVerifyReport

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context

ROUTES = [
    Route("audit.list", "GET", "/audit", "audit:read", list[AuditEvent]),
    Route("audit.verify", "POST", "/audit/verify", "audit:read", AuditVerifyReport),
]


class Audit(Protocol):
    def list_events(
        self,
        actor: str | None = None,
        action: str | None = None,
        project: str | None = None,
        since: float | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]: ...
    def verify_chain(self) -> AuditVerifyReport: ...


class LocalAudit:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def list_events(
        self,
        actor: str | None = None,
        action: str | None = None,
        project: str | None = None,
        since: float | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]:
        from llmloop.security import audit

        return audit.list_events(
            self.ctx, actor=actor, action=action, project=project, since=since, limit=limit
        )

    def verify_chain(self) -> AuditVerifyReport:
        from llmloop.security import audit

        return audit.verify_chain(self.ctx)


class RemoteAudit:
    def __init__(self, http: Http) -> None:
        self.http = http

    def list_events(
        self,
        actor: str | None = None,
        action: str | None = None,
        project: str | None = None,
        since: float | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]:
        query = {"actor": actor, "action": action, "project": project, "since": since, "limit": limit}
        items: list[AuditEvent] = self.http.call("audit.list", query=query)
        return items

    def verify_chain(self) -> AuditVerifyReport:
        report: AuditVerifyReport = self.http.call("audit.verify")
        return report
