"""``POST /v1/completions``: legacy text completion, streamed by SSE when ``stream`` is true."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from llmloop.server.auth import permission
from llmloop.server.gateway.handling import MAX_TOKENS, documented, handle

router = APIRouter(tags=["gateway"])


class CompletionBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=512)
    prompt: str | list[str]
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    temperature: float | None = Field(None, ge=0, le=2)
    user: str | None = Field(None, max_length=256)


@router.post(
    "/completions",
    response_model=None,
    openapi_extra=documented(permission("deployments:invoke"), CompletionBody),
)
async def completions(request: Request) -> Response:
    return await handle(request, "completions", CompletionBody)
