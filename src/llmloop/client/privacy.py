"""``client.privacy``: retention per project, purge, and erasure of one person's data, in-process or
over ``/api/v1/privacy``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from llmloop.client.routes import Route
from llmloop.services.privacy.schemas import (
    EraseReport,
    EraseRequest,
    PurgeReport,
    RetentionPolicy,
    RetentionSet,
)

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context

ROUTES = [
    Route("privacy.get_retention", "GET", "/privacy/retention/{project}", "projects:read", RetentionPolicy),
    Route(
        "privacy.set_retention",
        "PUT",
        "/privacy/retention/{project}",
        "privacy:admin",
        RetentionPolicy,
        RetentionSet,
    ),
    Route("privacy.purge", "POST", "/privacy/purge", "privacy:admin", PurgeReport),
    Route("privacy.erase", "POST", "/privacy/erase", "privacy:admin", EraseReport, EraseRequest),
]


class Privacy(Protocol):
    def get_retention(self, project: str) -> RetentionPolicy: ...
    def set_retention(self, project: str, kind: str, days: int | None) -> RetentionPolicy: ...
    def purge(self) -> PurgeReport: ...
    def erase_subject(self, user_id: str) -> EraseReport: ...


class LocalPrivacy:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def get_retention(self, project: str) -> RetentionPolicy:
        from llmloop.services.privacy import service

        return service.get_retention(self.ctx, project=project)

    def set_retention(self, project: str, kind: str, days: int | None) -> RetentionPolicy:
        from llmloop.services.privacy import service

        return service.set_retention(self.ctx, project=project, kind=kind, days=days)

    def purge(self) -> PurgeReport:
        from llmloop.services.privacy import service

        return service.purge(self.ctx)

    def erase_subject(self, user_id: str) -> EraseReport:
        from llmloop.services.privacy import service

        return service.erase_subject(self.ctx, subject=user_id)


class RemotePrivacy:
    def __init__(self, http: Http) -> None:
        self.http = http

    def get_retention(self, project: str) -> RetentionPolicy:
        policy: RetentionPolicy = self.http.call("privacy.get_retention", path={"project": project})
        return policy

    def set_retention(self, project: str, kind: str, days: int | None) -> RetentionPolicy:
        body = RetentionSet(kind=kind, days=days)
        policy: RetentionPolicy = self.http.call(
            "privacy.set_retention", path={"project": project}, body=body
        )
        return policy

    def purge(self) -> PurgeReport:
        report: PurgeReport = self.http.call("privacy.purge")
        return report

    def erase_subject(self, user_id: str) -> EraseReport:
        report: EraseReport = self.http.call("privacy.erase", body=EraseRequest(user_id=user_id))
        return report
