"""``GET /v1/models``: the deployments of the default project the caller may invoke, as OpenAI model
objects (a gateway-only key sees the deployments it names, nothing else)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from llmloop.errors import LlmloopError, NotFound
from llmloop.serve import service
from llmloop.server.auth import permission, request_actor
from llmloop.server.gateway.errors import openai_error

router = APIRouter(tags=["gateway"])


def _model(name: str, created: float, owner: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": int(created), "owned_by": owner}


@router.get("/models", response_model=None, openapi_extra=permission("deployments:invoke"))
async def list_models(request: Request) -> JSONResponse:
    ctx = request.app.state.ctx
    actor = request_actor(request)
    try:
        page = await asyncio.to_thread(service.list_deployments, ctx)
    except LlmloopError as e:
        return openai_error(e)
    mine = [d for d in page.items if actor.can_invoke(d.name, d.project)]
    return JSONResponse({"object": "list", "data": [_model(d.name, d.created_at, d.project) for d in mine]})


@router.get("/models/{model:path}", response_model=None, openapi_extra=permission("deployments:invoke"))
async def get_model(request: Request, model: str) -> JSONResponse:
    ctx = request.app.state.ctx
    try:
        d = await asyncio.to_thread(service.get_deployment, ctx, name=model)
        if not request_actor(request).can_invoke(d.name, d.project):  # as if it did not exist
            raise NotFound(f"model {model!r} not found", details={"model": model})
    except LlmloopError as e:
        return openai_error(e)
    return JSONResponse(_model(d.name, d.created_at, d.project))
