"""``POST /v1/embeddings``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from llmloop.server.auth import permission
from llmloop.server.gateway.handling import handle

router = APIRouter(tags=["gateway"])


class EmbeddingBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=512)
    input: str | list[str] | list[int] | list[list[int]]
    user: str | None = Field(None, max_length=256)


@router.post("/embeddings", response_model=None, openapi_extra=permission("deployments:invoke"))
async def embeddings(request: Request) -> Response:
    return await handle(request, "embeddings", EmbeddingBody)
