"""``POST /v1/embeddings``.

``encoding_format: "base64"`` (what the official ``openai`` client sends by default) is OpenAI's
packed little-endian float32 vector, base64-encoded. Targets are always asked for floats and the
gateway encodes, so every engine and upstream serves both formats alike.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from llmloop.server.auth import permission
from llmloop.server.gateway.handling import documented, handle

router = APIRouter(tags=["gateway"])


class EmbeddingBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=512)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = Field(None, max_length=256)


def pack(vector: list[float]) -> str:
    """A vector as OpenAI's base64 encoding: little-endian float32, base64."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def as_requested(body: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Ask the target for floats; answer in the format the client asked for."""
    if body.pop("encoding_format", "float") != "base64":
        return lambda out: out

    def encode(out: dict[str, Any]) -> dict[str, Any]:
        for item in out.get("data") or []:
            vector = item.get("embedding") if isinstance(item, dict) else None
            if isinstance(vector, list):
                item["embedding"] = pack(vector)
        return out

    return encode


@router.post(
    "/embeddings",
    response_model=None,
    openapi_extra=documented(permission("deployments:invoke"), EmbeddingBody),
)
async def embeddings(request: Request) -> Response:
    return await handle(request, "embeddings", EmbeddingBody, as_requested)
