"""/api/v1/prompts: the prompt registry and the playground over HTTP, same schemas as the SDK.

``/run`` calls a model through the resolver stored on ``app.state.prompt_models``: by default
registered models (``llmloop.services.registry.inference.prompt_model_resolver``); ``set_model_resolver``
swaps it (tests, an app embedding llmloop with its own models).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request

from llmloop.context import Context
from llmloop.server.auth import permission
from llmloop.server.deps import CtxDep
from llmloop.services.prompts import playground, service
from llmloop.services.prompts.playground import ModelResolver
from llmloop.services.prompts.schemas import (
    AliasUpdate,
    PromptCreate,
    PromptDiff,
    PromptPage,
    PromptRunRequest,
    PromptRunResult,
    PromptVersion,
    RenderedPrompt,
    RenderRequest,
)

router = APIRouter(prefix="/prompts", tags=["prompts"])


def set_model_resolver(app: FastAPI, resolver: ModelResolver | None) -> None:
    """Wire the models ``/prompts/{ref}/run`` may call: ``resolver(model_name, project) -> generate``."""
    app.state.prompt_models = resolver


def _project(ctx: Context, project: str | None) -> str:
    return project or ctx.settings.default_project


@router.get("", response_model=PromptPage, openapi_extra=permission("prompts:read"))
def list_prompts(ctx: CtxDep, project: str | None = None) -> PromptPage:
    return service.list_prompts(ctx, project=_project(ctx, project))


@router.post("", response_model=PromptVersion, status_code=201, openapi_extra=permission("prompts:write"))
def create_prompt_version(ctx: CtxDep, spec: PromptCreate) -> PromptVersion:
    return service.create_prompt_version(ctx, spec=spec)


@router.get("/{ref}", response_model=PromptVersion, openapi_extra=permission("prompts:read"))
def get_prompt_version(ctx: CtxDep, ref: str, project: str | None = None) -> PromptVersion:
    return service.get_prompt_version(ctx, project=_project(ctx, project), ref=ref)


@router.get("/{name}/versions", openapi_extra=permission("prompts:read"))
def list_prompt_versions(ctx: CtxDep, name: str, project: str | None = None) -> dict[str, Any]:
    items = service.list_prompt_versions(ctx, project=_project(ctx, project), name=name)
    return {"items": [v.model_dump(mode="json") for v in items]}


@router.get("/{name}/diff", response_model=PromptDiff, openapi_extra=permission("prompts:read"))
def diff_prompt_versions(
    ctx: CtxDep,
    name: str,
    from_: str = Query(alias="from", description="VERSION, ALIAS or NAME@VERSION"),
    to: str = Query(description="VERSION, ALIAS or NAME@VERSION"),
    project: str | None = None,
) -> PromptDiff:
    a = from_ if "@" in from_ else f"{name}@{from_}"
    b = to if "@" in to else f"{name}@{to}"
    return service.diff_prompt_versions(ctx, project=_project(ctx, project), a=a, b=b)


@router.put(
    "/{name}/aliases/{alias}", response_model=PromptVersion, openapi_extra=permission("prompts:write")
)
def set_prompt_alias(
    ctx: CtxDep, name: str, alias: str, body: AliasUpdate, project: str | None = None
) -> PromptVersion:
    return service.set_prompt_alias(
        ctx, project=_project(ctx, project), name=name, alias=alias, version=body.version
    )


@router.delete("/{name}/aliases/{alias}", status_code=204, openapi_extra=permission("prompts:write"))
def delete_prompt_alias(ctx: CtxDep, name: str, alias: str, project: str | None = None) -> None:
    service.delete_prompt_alias(ctx, project=_project(ctx, project), name=name, alias=alias)


@router.post("/{ref}/render", response_model=RenderedPrompt, openapi_extra=permission("prompts:read"))
def render_prompt(ctx: CtxDep, ref: str, body: RenderRequest) -> RenderedPrompt:
    return service.render_prompt(ctx, ref=ref, request=body)


@router.post("/{ref}/run", response_model=PromptRunResult, openapi_extra=permission("prompts:write"))
def run_prompt(ctx: CtxDep, ref: str, body: PromptRunRequest, request: Request) -> PromptRunResult:
    resolver: ModelResolver | None = getattr(request.app.state, "prompt_models", None)
    return playground.run_prompt(ctx, ref=ref, request=body, resolve_model=resolver)
