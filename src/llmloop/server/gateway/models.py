"""``GET /v1/models``: what the ``model`` field may name in the default project, as OpenAI model objects.

Deployments first, then every registered model by name (its latest version) and by each alias
(``travel-sft@champion``): a registered reference is servable without a deployment. Only what the
caller may invoke is listed (a gateway-only key sees the deployments it names, nothing else).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from llmloop.errors import LlmloopError, NotFound
from llmloop.server.auth import permission, request_actor
from llmloop.server.gateway.errors import openai_error
from llmloop.services.serve import service

router = APIRouter(tags=["gateway"])


def _model(name: str, created: float, owner: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": int(created), "owned_by": owner}


def _servable(ctx: Any, actor: Any) -> list[dict[str, Any]]:
    from llmloop.services.registry.service import list_models as registered

    out = [
        _model(d.name, d.created_at, d.project)
        for d in service.list_deployments(ctx).items
        if actor.can_invoke(d.name, d.project)
    ]
    names = {m["id"] for m in out}
    for m in registered(ctx, project=ctx.settings.default_project):
        for ref in (m.name, *(f"{m.name}@{alias}" for alias in sorted(m.aliases))):
            # a deployment of the same name wins, as it does when routing
            if ref not in names and actor.can_invoke(ref, m.project):
                out.append(_model(ref, m.created_at, m.project))
    return out


@router.get("/models", response_model=None, openapi_extra=permission("deployments:invoke"))
async def list_models(request: Request) -> JSONResponse:
    try:
        data = await asyncio.to_thread(_servable, request.app.state.ctx, request_actor(request))
    except LlmloopError as e:
        return openai_error(e)
    return JSONResponse({"object": "list", "data": data})


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
