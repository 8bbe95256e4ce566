"""/api/v1/store: health of the store itself."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from llmloop.server.auth import permission
from llmloop.server.deps import CtxDep

router = APIRouter(prefix="/store", tags=["store"])


class VerifyResult(BaseModel):
    ok: bool
    checked: int
    bytes_checked: int
    corrupted: list[str]


@router.post("/verify", response_model=VerifyResult, openapi_extra=permission("store:verify"))
def verify_store(ctx: CtxDep) -> VerifyResult:
    """Re-hash every artifact; damage is reported in a 200, not raised."""
    ctx.require("store:verify", "*")
    report = ctx.artifacts.verify()
    return VerifyResult(
        ok=report.ok, checked=report.checked, bytes_checked=report.bytes_checked, corrupted=report.corrupted
    )
