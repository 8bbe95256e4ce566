"""``verify_store``: re-hash every artifact of the store, the check behind ``llmloop store verify``.

It sits beside the audit chain's check (``security.audit.verify_chain``): both prove nothing
was changed behind the services' back, and both report damage as a verdict, not an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmloop.security.schemas import StoreVerifyReport

if TYPE_CHECKING:
    from llmloop.context import Context


def verify_store(ctx: Context) -> StoreVerifyReport:
    """Read every blob back and compare it with its hash (global admins only: it reads everything)."""
    ctx.require("store:verify", "*")
    report = ctx.artifacts.verify()
    return StoreVerifyReport(
        ok=report.ok, checked=report.checked, bytes_checked=report.bytes_checked, corrupted=report.corrupted
    )
