"""/api/v1/prompts: the prompt registry and the playground over HTTP, same schemas as the SDK.

``/run`` calls a model through the resolver stored on ``app.state.prompt_models``: by default
registered models (``llmloop.services.registry.inference.prompt_model_resolver``); ``set_model_resolver``
swaps it (tests, an app embedding llmloop with its own models). A deployment is run through the
app's own gateway (``playground_deployments``), so its routing, guardrails and limits apply. Every endpoint is mounted from the
route table (``llmloop.client.prompts.ROUTES``), which also drives ``RemotePrompts``.
"""

from __future__ import annotations

import asyncio
import functools

from fastapi import APIRouter, FastAPI, Query, Request
from starlette.concurrency import run_in_threadpool

from llmloop.client.prompts import PromptVersionList
from llmloop.context import Context
from llmloop.server.auth import request_actor
from llmloop.server.deps import CtxDep
from llmloop.server.gateway.handling import get_gateway
from llmloop.server.routes import mount
from llmloop.services.prompts import playground, service
from llmloop.services.prompts.playground import DeploymentResolver, ModelResolver
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
from llmloop.services.serve.from_thread import deployment_resolver

router = APIRouter(prefix="/prompts", tags=["prompts"])


def set_model_resolver(app: FastAPI, resolver: ModelResolver | None) -> None:
    """Wire the models ``/prompts/{ref}/run`` may call: ``resolver(model_name, project) -> generate``."""
    app.state.prompt_models = resolver


def playground_deployments(request: Request) -> DeploymentResolver:
    """The deployments the playground runs on for this caller: the app's gateway, on this event
    loop (call it from a handler; the playground itself then runs on a worker thread)."""
    return deployment_resolver(get_gateway(request), asyncio.get_running_loop(), actor=request_actor(request))


def _project(ctx: Context, project: str | None) -> str:
    return project or ctx.settings.default_project


@mount(router, "prompts.list")
def list_prompts(ctx: CtxDep, project: str | None = None) -> PromptPage:
    return service.list_prompts(ctx, project=_project(ctx, project))


@mount(router, "prompts.create")
def create_prompt_version(ctx: CtxDep, spec: PromptCreate) -> PromptVersion:
    return service.create_prompt_version(ctx, spec=spec)


@mount(router, "prompts.get")
def get_prompt_version(ctx: CtxDep, ref: str, project: str | None = None) -> PromptVersion:
    return service.get_prompt_version(ctx, project=_project(ctx, project), ref=ref)


@mount(router, "prompts.versions")
def list_prompt_versions(ctx: CtxDep, name: str, project: str | None = None) -> PromptVersionList:
    return PromptVersionList(
        items=service.list_prompt_versions(ctx, project=_project(ctx, project), name=name)
    )


@mount(router, "prompts.diff")
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


@mount(router, "prompts.set_alias")
def set_prompt_alias(
    ctx: CtxDep, name: str, alias: str, body: AliasUpdate, project: str | None = None
) -> PromptVersion:
    return service.set_prompt_alias(
        ctx, project=_project(ctx, project), name=name, alias=alias, version=body.version
    )


@mount(router, "prompts.delete_alias")
def delete_prompt_alias(ctx: CtxDep, name: str, alias: str, project: str | None = None) -> None:
    service.delete_prompt_alias(ctx, project=_project(ctx, project), name=name, alias=alias)


@mount(router, "prompts.render")
def render_prompt(ctx: CtxDep, ref: str, body: RenderRequest) -> RenderedPrompt:
    return service.render_prompt(ctx, ref=ref, request=body)


@mount(router, "prompts.run")
async def run_prompt(ctx: CtxDep, ref: str, body: PromptRunRequest, request: Request) -> PromptRunResult:
    resolver: ModelResolver | None = getattr(request.app.state, "prompt_models", None)
    work = functools.partial(
        playground.run_prompt,
        ctx,
        ref=ref,
        request=body,
        resolve_model=resolver,
        resolve_deployment=playground_deployments(request),
    )
    return await run_in_threadpool(work)
