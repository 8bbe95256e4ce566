"""``GET /v1/models``: what the ``model`` field may name in the caller's project, as OpenAI model objects.

The caller's project is the one the gateway routes in (``x-llmloop-project``, else the one
project the caller holds a role in, else the default; see ``services/serve/gateway.py``).
Deployments first, then every registered model by name (its latest version) and by each alias
(``travel-sft@champion``): a registered reference is servable without a deployment. The
packaged default model (``smollm2-135m-instruct``) is listed when it is installed, even before its
first use registers it. Only what the caller may invoke is listed (a gateway-only key sees the
deployments it names, nothing else).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from llmloop.errors import LlmloopError, NotFound, Unavailable
from llmloop.refs import NAME_RE, validate_name
from llmloop.security.rbac import Actor
from llmloop.server.auth import permission, request_actor
from llmloop.server.gateway.errors import openai_error
from llmloop.server.gateway.handling import PROJECT_HEADER, get_gateway
from llmloop.services.serve import service

router = APIRouter(tags=["gateway"])


def _model(name: str, created: float, owner: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": int(created), "owned_by": owner}


def _servable(ctx: Any, actor: Actor, project: str) -> list[dict[str, Any]]:
    from llmloop.services.registry import default
    from llmloop.services.registry.service import list_models as registered

    out = [
        _model(d.name, d.created_at, d.project)
        for d in service.list_deployments(ctx, project=project).items
        if actor.can_invoke(d.name, d.project)
    ]
    names = {m["id"] for m in out}
    for m in registered(ctx, project=project):
        for ref in (m.name, *(f"{m.name}@{alias}" for alias in sorted(m.aliases))):
            # a deployment of the same name wins, as it does when routing
            if ref not in names and actor.can_invoke(ref, m.project):
                out.append(_model(ref, m.created_at, m.project))
                names.add(ref)
    if default.DEFAULT_MODEL not in names and actor.can_invoke(default.DEFAULT_MODEL, project):
        try:
            gguf = default.packaged_gguf()
        except Unavailable:  # not installed: nothing to serve
            return out
        out.append(_model(default.DEFAULT_MODEL, gguf.stat().st_mtime, project))
    return out


def _project(request: Request) -> str:
    header = request.headers.get(PROJECT_HEADER)
    if header is not None:
        validate_name(header, what=PROJECT_HEADER)
    return get_gateway(request).caller_project(request_actor(request), header)


@router.get("/models", response_model=None, openapi_extra=permission("deployments:invoke"))
async def list_models(request: Request) -> JSONResponse:
    try:
        project = _project(request)
        data = await asyncio.to_thread(_servable, request.app.state.ctx, request_actor(request), project)
    except LlmloopError as e:
        return openai_error(e)
    return JSONResponse({"object": "list", "data": data})


@router.get("/models/{model:path}", response_model=None, openapi_extra=permission("deployments:invoke"))
async def get_model(request: Request, model: str) -> JSONResponse:
    """One model of the list; ``project/name`` names another project, as in requests."""
    try:
        project = _project(request)
        head, sep, name = model.partition("/")
        if sep and NAME_RE.fullmatch(head) and NAME_RE.fullmatch(name):
            project = head
        else:
            name = model
        actor = request_actor(request)
        found = [
            m
            for m in await asyncio.to_thread(_servable, request.app.state.ctx, actor, project)
            if m["id"] == name
        ]
        if not found:  # another project's models look absent too (_servable lists only the invokable)
            raise NotFound(f"model {model!r} not found", details={"model": model})
    except LlmloopError as e:
        return openai_error(e)
    return JSONResponse({**found[0], "id": model})
