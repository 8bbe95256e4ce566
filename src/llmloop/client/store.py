"""``client.store``: checks of the store itself, in-process or over ``/api/v1/store``.

Damage found is a verdict (``StoreVerifyReport.ok`` false), not an error, through both doors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from llmloop.client.routes import Route
from llmloop.security.schemas import StoreVerifyReport

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context

ROUTES = [
    Route(
        "store.verify",
        "POST",
        "/store/verify",
        "store:verify",
        StoreVerifyReport,
        summary="Re-hash every artifact and list leftovers; damage is reported in a 200, not raised.",
    ),
    Route(
        "store.repair",
        "POST",
        "/store/repair",
        "store:verify",
        StoreVerifyReport,
        summary="Verify, then delete stale upload temp files and blobs nothing refers to.",
    ),
]


class Store(Protocol):
    def verify(self) -> StoreVerifyReport: ...

    def repair(self) -> StoreVerifyReport: ...


class LocalStore:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def verify(self) -> StoreVerifyReport:
        from llmloop.security.integrity import verify_store

        return verify_store(self.ctx)

    def repair(self) -> StoreVerifyReport:
        from llmloop.security.integrity import verify_store

        return verify_store(self.ctx, repair=True)


class RemoteStore:
    def __init__(self, http: Http) -> None:
        self.http = http

    def verify(self) -> StoreVerifyReport:
        report: StoreVerifyReport = self.http.call("store.verify")
        return report

    def repair(self) -> StoreVerifyReport:
        report: StoreVerifyReport = self.http.call("store.repair")
        return report
