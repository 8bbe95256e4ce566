"""Request dependencies: the Context every route hands to its service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from llmloop.context import Context


def get_ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


CtxDep = Annotated[Context, Depends(get_ctx)]
