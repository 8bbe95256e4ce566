"""Request dependencies: the Context every route hands to its service, acting as the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from llmloop.context import Context
from llmloop.server.auth import request_actor


def get_ctx(request: Request) -> Context:
    """The app's Context as the authenticated caller, so every service check sees who is asking."""
    ctx: Context = request.app.state.ctx
    return ctx.as_actor(request_actor(request))


CtxDep = Annotated[Context, Depends(get_ctx)]
