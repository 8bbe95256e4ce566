"""``create_app(ctx)``: the one FastAPI application behind ``llmloop serve``."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from llmloop import __version__
from llmloop.context import Context, local_context
from llmloop.server.api import datasets, runs, store
from llmloop.server.errors import install_error_handlers

API_ROUTERS = [runs.router, store.router, datasets.router]


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def create_app(ctx: Context | None = None) -> FastAPI:
    app = FastAPI(
        title="llmloop",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        generate_unique_id_function=_operation_id,
    )
    app.state.ctx = ctx or local_context()
    install_error_handlers(app)
    api = APIRouter(prefix="/api/v1")
    for router in API_ROUTERS:
        api.include_router(router)

    @api.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(api)
    return app
