"""The OpenAI-compatible gateway, mounted at ``/v1`` (apart from ``/api/v1``)."""

from __future__ import annotations

from fastapi import APIRouter

from llmloop.server.gateway import chat, completions, embeddings, models, otlp

router = APIRouter(prefix="/v1")
for _r in (chat.router, completions.router, embeddings.router, models.router, otlp.router):
    router.include_router(_r)
