"""What every ``/v1`` endpoint does around its call: bound and parse the body, validate it, admit
it (queue bound, rate limits), open the trace, and answer in OpenAI's shape with the trace id."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from llmloop.errors import InvalidInput, LlmloopError
from llmloop.server.auth import request_actor
from llmloop.server.gateway.errors import TRACE_HEADER, openai_error
from llmloop.server.gateway.sse import sse
from llmloop.services.serve.gateway import Gateway
from llmloop.services.serve.targets import Endpoint
from llmloop.validation import format_validation_error

USER_HEADER = "x-llmloop-user-id"
SESSION_HEADER = "x-llmloop-session-id"


def get_gateway(request: Request) -> Gateway:
    gw: Gateway | None = getattr(request.app.state, "gateway", None)
    if gw is None:
        gw = request.app.state.gateway = Gateway(request.app.state.ctx)
    return gw


class TooLarge(InvalidInput):
    http_status = 413


async def read_raw(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it passes ``limit`` bytes rather than after buffering it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body over {limit} bytes", details={"limit": limit})
    buf = bytearray()
    async for piece in request.stream():
        buf += piece
        if len(buf) > limit:
            raise TooLarge(f"request body over {limit} bytes", details={"limit": limit})
    return bytes(buf)


async def read_body(request: Request, limit: int, schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON body, at most ``limit`` bytes, checked against ``schema`` (unknown keys pass through)."""
    raw = await read_raw(request, limit)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInput(f"request body is not valid JSON: {e}", details={"field": "body"}) from None
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object", details={"field": "body"})
    try:
        schema.model_validate(body)
    except ValidationError as e:
        raise format_validation_error(e, model=schema, detail_name="field") from None
    return body


async def handle(request: Request, endpoint: Endpoint, schema: type[BaseModel]) -> Response:
    gw = get_gateway(request)
    try:
        body = await read_body(request, gw.settings.max_body_bytes, schema)
    except LlmloopError as e:
        return openai_error(e)
    user = body.get("user") if isinstance(body.get("user"), str) else request.headers.get(USER_HEADER)
    auth = request.headers.get("authorization", "")
    api_key = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    call = gw.begin(
        endpoint,
        body,
        user=user,
        session=request.headers.get(SESSION_HEADER),
        api_key=api_key,
        actor=request_actor(request),
    )
    headers = {TRACE_HEADER: call.trace_id}
    try:
        await gw.admission.enter()
    except LlmloopError as e:
        gw.fail(call, e)
        return openai_error(e, trace_id=call.trace_id)
    streaming = False
    try:
        if body.get("stream") and endpoint != "embeddings":
            chunks = gw.stream(call)
            try:
                first: dict[str, Any] | None = await anext(chunks)
            except StopAsyncIteration:
                first = None
            streaming = True
            return StreamingResponse(
                _released(gw, sse(first, chunks)),
                media_type="text/event-stream",
                headers={**headers, "cache-control": "no-cache", "x-accel-buffering": "no"},
            )
        out = await gw.call(call)
    except LlmloopError as e:
        if call.root.status_code != "error":
            gw.fail(call, e)
        return openai_error(e, trace_id=call.trace_id)
    finally:
        if not streaming:
            gw.admission.leave()
    return JSONResponse(out, headers=headers)


async def _released(gw: Gateway, events: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    """The stream's events; its admission slot is freed when the stream ends or the client leaves."""
    try:
        async for e in events:
            yield e
    finally:
        gw.admission.leave()
        await events.aclose()
