"""``POST /v1/chat/completions``: chat, streamed by SSE when ``stream`` is true."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from llmloop.server.auth import permission
from llmloop.server.gateway.handling import MAX_TOKENS, documented, handle

router = APIRouter(tags=["gateway"])


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str = Field(min_length=1, max_length=64)
    content: str | list[dict[str, Any]] | None = None


class ChatBody(BaseModel):
    """Checked before routing so wrong types answer 400; every other field goes to the target as sent."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=512)
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=10_000)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    user: str | None = Field(None, max_length=256)


@router.post(
    "/chat/completions",
    response_model=None,
    openapi_extra=documented(permission("deployments:invoke"), ChatBody),
)
async def chat_completions(request: Request) -> Response:
    return await handle(request, "chat/completions", ChatBody)
