"""The OpenAI-compatible gateway, mounted at ``/v1`` (apart from ``/api/v1``), and ``/metrics``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from llmloop.security.rbac import PUBLIC
from llmloop.server.auth import permission
from llmloop.server.gateway import chat, completions, embeddings, models, otlp
from llmloop.server.gateway.handling import get_gateway
from llmloop.services.observe.writer import flush_all
from llmloop.services.serve.targets import close_sessions

v1 = APIRouter(prefix="/v1")
for _r in (chat.router, completions.router, embeddings.router, models.router, otlp.router):
    v1.include_router(_r)

log = logging.getLogger("llmloop.server")


@contextlib.asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    """On shutdown, finish shadow calls, close upstream connections and write every queued span.

    uvicorn re-raises SIGTERM after a graceful shutdown, which ends the process without running
    ``atexit`` hooks, so the writers' exit flush cannot be relied on under ``llmloop serve``.
    """
    yield
    gw = getattr(app.state, "gateway", None)
    if gw is not None:
        await gw.drain()
    await close_sessions()
    try:
        await asyncio.to_thread(flush_all)
    except Exception as e:  # shutdown goes on; say what was lost
        log.warning("spans lost at shutdown: %s", e)


router = APIRouter(lifespan=_lifespan)
router.include_router(v1)


def metrics(request: Request) -> Response:
    """Prometheus text format: requests, errors, latency, time to first token, tokens, queue depth."""
    return Response(
        get_gateway(request).metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


def metrics_router(*, public: bool) -> APIRouter:
    """``GET /metrics``. It names deployments and their traffic, so in authenticated mode it needs
    ``deployments:read`` (a scraper gets a viewer key) unless the operator opens it with
    ``LLMLOOP_GATEWAY_METRICS_PUBLIC=true``; in local mode everyone is the local admin anyway."""
    out = APIRouter()
    out.add_api_route(
        "/metrics",
        metrics,
        methods=["GET"],
        tags=["gateway"],
        response_model=None,
        openapi_extra=permission(PUBLIC if public else "deployments:read"),
    )
    return out
