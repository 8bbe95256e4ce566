"""What every ``/v1`` endpoint does around its call: bound and parse the body, validate it, admit
it (queue bound, rate limits), open the trace, and answer in OpenAI's shape with the trace id.

A client that goes away before a whole (non-streamed) answer is ready cancels the call, as a
closed stream does: the target stops, the admission slot is freed for the next caller, and the
trace records the disconnect.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from llmloop.errors import InvalidInput, LlmloopError
from llmloop.refs import validate_name
from llmloop.server.auth import request_actor
from llmloop.server.gateway.errors import TRACE_HEADER, openai_error
from llmloop.server.gateway.sse import sse
from llmloop.services.serve.gateway import Gateway
from llmloop.services.serve.targets import Endpoint
from llmloop.validation import format_validation_error

USER_HEADER = "x-llmloop-user-id"
SESSION_HEADER = "x-llmloop-session-id"
PROJECT_HEADER = "x-llmloop-project"
MAX_DEPTH = 64  # OpenAI bodies (tools' JSON schemas included) nest a handful of levels
MAX_TOKENS = 2**31 - 1  # an int32, the most any engine or upstream takes; more is a mistake (400)
T = TypeVar("T")
# How an endpoint adapts a body for its target; it returns what turns the target's answer into
# the client's (embeddings: the target answers floats, the client may have asked for base64).
Adapter = Callable[[dict[str, Any]], Callable[[dict[str, Any]], dict[str, Any]]]


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


_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_EMPTY_PAIRS = re.compile(r"\[\]|\{\}")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _too_deep(text: str, limit: int) -> bool:
    """Whether the JSON text nests arrays/objects more than ``limit`` deep, decided before parsing
    (the parser recurses once per level, so a few KB of ``[`` would exhaust the stack)."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    if len(brackets) <= 2 * limit:
        return False
    depth = 0
    for c in _EMPTY_PAIRS.sub("", brackets):
        if c in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInput(f"request body has a number out of range: {text[:40]}", details={"field": "body"})
    return value


def _refuse_constant(name: str) -> Any:
    raise InvalidInput(f"request body has {name}, which JSON does not allow", details={"field": "body"})


def parse_json(raw: bytes) -> Any:
    """A JSON document from an untrusted body, or ``InvalidInput`` saying what is wrong with it.

    Beyond ``json.loads``: at most ``MAX_DEPTH`` levels of nesting, finite numbers only (no
    ``NaN``/``1e999``), and no lone UTF-16 surrogate (``"\\ud800"``), which no UTF-8 store,
    upstream or trace can hold. Every ``/v1`` body is read through here.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidInput(f"request body is not UTF-8: {e}", details={"field": "body"}) from None
    if _too_deep(text, MAX_DEPTH):
        raise InvalidInput(f"request body nests deeper than {MAX_DEPTH} levels", details={"field": "body"})
    try:
        doc = json.loads(text, parse_float=_finite, parse_constant=_refuse_constant)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"request body is not valid JSON: {e}", details={"field": "body"}) from None
    except ValueError:  # an integer past Python's digit limit
        raise InvalidInput(
            "request body has an integer with too many digits", details={"field": "body"}
        ) from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(
                "request body has a lone UTF-16 surrogate escape (such as \\ud800) in a string",
                details={"field": "body"},
            ) from None
    return doc


async def read_body(request: Request, limit: int, schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON object body, at most ``limit`` bytes, checked against ``schema`` (unknown keys pass
    through to the target). A top-level ``null`` means "the default", as in OpenAI's API, so such
    keys are dropped here rather than sent on to engines that expect a value."""
    body = parse_json(await read_raw(request, limit))
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object", details={"field": "body"})
    body = {k: v for k, v in body.items() if v is not None}
    try:
        schema.model_validate(body)
    except ValidationError as e:
        raise format_validation_error(e, model=schema, detail_name="field") from None
    return body


class ClientGone(LlmloopError):
    """The client closed its connection before the answer was ready; nobody reads this error."""

    code = "client_disconnected"
    http_status = 499


async def _disconnected(request: Request) -> None:
    """Returns when the client disconnects (the body was read already, so only that message is left)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """``work``'s result, or ``ClientGone`` once the client left, with ``work`` cancelled."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if task.cancelled():
        raise ClientGone("the client closed the connection before the answer was ready")
    return task.result()


async def handle(
    request: Request, endpoint: Endpoint, schema: type[BaseModel], adapt: Adapter | None = None
) -> Response:
    gw = get_gateway(request)
    try:
        body = await read_body(request, gw.settings.max_body_bytes, schema)
        answer = adapt(body) if adapt is not None else None
        project = request.headers.get(PROJECT_HEADER)
        if project is not None:
            validate_name(project, what=PROJECT_HEADER)
    except LlmloopError as e:
        return openai_error(e)
    user = body.get("user") if isinstance(body.get("user"), str) else request.headers.get(USER_HEADER)
    session = request.headers.get(SESSION_HEADER)
    try:
        _check_identifier(user, "user")
        _check_identifier(session, SESSION_HEADER)
    except LlmloopError as e:
        return openai_error(e)
    auth = request.headers.get("authorization", "")
    api_key = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    call = gw.begin(
        endpoint,
        body,
        user=user,
        session=session,
        api_key=api_key,
        actor=request_actor(request),
        project=project,
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
        out = await unless_disconnected(request, gw.call(call))
    except LlmloopError as e:
        if call.root.status_code != "error":
            gw.fail(call, e)
        return openai_error(e, trace_id=call.trace_id)
    finally:
        if not streaming:
            gw.admission.leave()
    return JSONResponse(answer(out) if answer is not None else out, headers=headers)


async def _released(gw: Gateway, events: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    """The stream's events; its admission slot is freed when the stream ends or the client leaves."""
    try:
        async for e in events:
            yield e
    finally:
        gw.admission.leave()
        await events.aclose()


def documented(permission_extra: dict[str, Any], schema: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a ``/v1`` route: its permission and its JSON body (``schema``, with its
    ``$defs`` inlined), so the OpenAPI document shows the body and schema-driven fuzzers send it.
    (The handler reads the body itself, to bound and check it before FastAPI would parse it.)"""
    doc = schema.model_json_schema()
    defs = doc.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    body = {"required": True, "content": {"application/json": {"schema": inline(doc)}}}
    return {**permission_extra, "requestBody": body}


def _check_identifier(value: str | None, field: str) -> None:
    """A user or session id is stored and filtered on: printable text of sane length, or refused (400)."""
    if value is None:
        return
    if len(value) > 256 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(
            f"{field}: an id of at most 256 printable characters (no control characters)",
            details={"field": field},
        )
