"""Request dependencies: the Context every route hands to its service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from llmloop.context import Context


async def get_ctx(request: Request) -> Context:
    """``async`` because it does no I/O: FastAPI runs a plain ``def`` dependency on its thread pool,
    a thread hand-off per request that costs more than the lookup."""
    ctx: Context = request.app.state.ctx
    return ctx


CtxDep = Annotated[Context, Depends(get_ctx)]
