"""``GET /v1/models``: the deployments of the default project, as OpenAI model objects."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from llmloop.errors import LlmloopError
from llmloop.serve import service
from llmloop.server.auth import permission
from llmloop.server.gateway.errors import openai_error

router = APIRouter(tags=["gateway"])


def _model(name: str, created: float, owner: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": int(created), "owned_by": owner}


@router.get("/models", response_model=None, openapi_extra=permission("deployments:invoke"))
async def list_models(request: Request) -> JSONResponse:
    ctx = request.app.state.ctx
    try:
        page = await asyncio.to_thread(service.list_deployments, ctx)
    except LlmloopError as e:
        return openai_error(e)
    return JSONResponse(
        {"object": "list", "data": [_model(d.name, d.created_at, d.project) for d in page.items]}
    )


@router.get("/models/{model:path}", response_model=None, openapi_extra=permission("deployments:invoke"))
async def get_model(request: Request, model: str) -> JSONResponse:
    ctx = request.app.state.ctx
    try:
        d = await asyncio.to_thread(service.get_deployment, ctx, name=model)
    except LlmloopError as e:
        return openai_error(e)
    return JSONResponse(_model(d.name, d.created_at, d.project))
