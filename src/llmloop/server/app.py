"""``create_app(ctx)``: the one FastAPI application behind ``llmloop serve``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from llmloop import __version__
from llmloop.context import Context, local_context
from llmloop.security.rbac import PUBLIC
from llmloop.server import gateway
from llmloop.server.api import (
    audit,
    auth,
    datasets,
    deployments,
    evaluations,
    feedback,
    keys,
    models,
    monitoring,
    pipelines,
    privacy,
    prompts,
    runs,
    secrets,
    store,
    traces,
    users,
)
from llmloop.server.auth import authorize, permission
from llmloop.server.errors import install_error_handlers
from llmloop.server.security import install_security
from llmloop.server.ui import install_ui
from llmloop.services.registry.inference import prompt_model_resolver
from llmloop.services.serve.settings import gateway_settings

API_ROUTERS = [
    runs.router,
    store.router,
    auth.router,
    users.router,
    keys.router,
    audit.router,
    secrets.router,
    privacy.router,
    prompts.router,
    evaluations.router,
    deployments.router,
    traces.router,
    feedback.router,
    datasets.router,
    models.router,
    pipelines.router,
    pipelines.schedules_router,
    *monitoring.ROUTERS,
]


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def _lifespan(scheduler: bool) -> Any:
    """With ``scheduler``, the stored schedules fire while the server runs (``llmloop serve`` sets it)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = None
        if scheduler:
            from llmloop.services.schedules.scheduler import Scheduler

            running = Scheduler(app.state.ctx)
            running.start()
        app.state.scheduler = running
        try:
            yield
        finally:
            if running is not None:
                running.shutdown()

    return lifespan


def create_app(ctx: Context | None = None, *, scheduler: bool = False) -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan(scheduler),
        title="llmloop",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        generate_unique_id_function=_operation_id,
        dependencies=[Depends(authorize)],  # every route, including ones added later (server/auth.py)
    )
    app.state.ctx = ctx or local_context()
    # The playground runs prompts on registered models (tests may swap in their own resolver).
    app.state.prompt_models = prompt_model_resolver(app.state.ctx)
    install_error_handlers(app)
    install_security(app)
    api = APIRouter(prefix="/api/v1")
    for router in API_ROUTERS:
        api.include_router(router)

    @api.get("/health", tags=["health"], openapi_extra=permission(PUBLIC))
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(gateway.router)  # first: the gateway's routes are matched on every /v1 call
    app.include_router(gateway.metrics_router(public=gateway_settings().metrics_public))
    app.include_router(api)
    install_ui(app)  # last: pages at / never shadow /api/v1 or the gateway
    return app
