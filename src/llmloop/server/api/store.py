"""/api/v1/store: health of the store itself."""

from __future__ import annotations

from fastapi import APIRouter

from llmloop.security.integrity import verify_store
from llmloop.security.schemas import StoreVerifyReport
from llmloop.server.deps import CtxDep
from llmloop.server.routes import mount

router = APIRouter(prefix="/store", tags=["store"])


@mount(router, "store.verify")
def verify(ctx: CtxDep) -> StoreVerifyReport:
    return verify_store(ctx)


@mount(router, "store.repair")
def repair(ctx: CtxDep) -> StoreVerifyReport:
    return verify_store(ctx, repair=True)
