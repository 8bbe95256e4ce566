"""The OpenAI-compatible gateway, mounted at ``/v1`` (apart from ``/api/v1``), and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from llmloop.server.gateway import chat, completions, embeddings, models, otlp
from llmloop.server.gateway.handling import get_gateway

v1 = APIRouter(prefix="/v1")
for _r in (chat.router, completions.router, embeddings.router, models.router, otlp.router):
    v1.include_router(_r)

router = APIRouter()
router.include_router(v1)


@router.get("/metrics", tags=["gateway"], response_model=None)
def metrics(request: Request) -> Response:
    """Prometheus text format: requests, errors, latency, time to first token, tokens, queue depth."""
    return Response(
        get_gateway(request).metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
