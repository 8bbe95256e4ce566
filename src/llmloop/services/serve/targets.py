"""What a deployment target is at call time: something that answers OpenAI-shaped requests.

``Target.call`` returns one response body; ``Target.stream`` yields the chunks of a streamed
one. Two kinds exist: ``UpstreamTarget`` (any OpenAI-compatible HTTP API, streamed SSE passed
through) and whatever ``serve.engines.resolve_engine`` returns for a registered model.
Errors are llmloop's: a client mistake is ``InvalidInput``; a broken, slow or unreachable
target is ``Unavailable`` (which lets the router fall back).
"""

from __future__ import annotations

import asyncio
import json
import os
import weakref
from collections.abc import AsyncGenerator
from typing import Any, Literal, Protocol

import aiohttp

from llmloop.errors import InvalidInput, LlmloopError, NotFound, RateLimited, Unavailable
from llmloop.services.serve.schemas import TargetSpec

Endpoint = Literal["chat/completions", "completions", "embeddings"]


class Target(Protocol):
    label: str
    model: str

    async def call(self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float) -> dict[str, Any]: ...

    def stream(
        self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float
    ) -> AsyncGenerator[dict[str, Any], None]: ...


# One connection pool per event loop: a session must not outlive or cross the loop it was made on.
# aiohttp rather than httpx on this path: its C parser and thinner layers make an upstream call
# several times cheaper, which is most of what the gateway adds to a request (benchmarks/bench_gateway.py).
_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
    weakref.WeakKeyDictionary()
)
MAX_LINE_BYTES = 16 * 1024 * 1024


def _session() -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256, limit_per_host=0), json_serialize=_dumps
        )
        _sessions[loop] = session
    return session


async def close_sessions() -> None:
    """Close this event loop's upstream connection pool (at server shutdown)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _timeout(timeout_s: float) -> aiohttp.ClientTimeout:
    # like a read timeout: bounds the wait for each piece, not a whole (long) stream
    return aiohttp.ClientTimeout(total=None, sock_connect=timeout_s, sock_read=timeout_s)


def _upstream_error(status: int, text: str, where: str) -> LlmloopError:
    try:
        message = str(json.loads(text)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = text[:500]
    details = {"upstream": where, "status": status}
    if status == 404:
        return NotFound(f"upstream {where}: {message}", details=details)
    if status == 429:
        return RateLimited(f"upstream {where}: {message}", details=details)
    if 400 <= status < 500:
        return InvalidInput(f"upstream {where}: {message}", details=details)
    return Unavailable(f"upstream {where} failed with HTTP {status}: {message}", details=details)


class UpstreamTarget:
    """An OpenAI-compatible API at ``base_url`` (for example ``https://api.openai.com/v1``)."""

    def __init__(self, spec: TargetSpec) -> None:
        assert spec.upstream is not None
        self.base_url = spec.upstream.rstrip("/")
        self.model = spec.model
        self.label = spec.label
        key = os.environ.get(spec.api_key_env, "") if spec.api_key_env else ""
        self._headers = {"authorization": f"Bearer {key}"} if key else {}

    def _body(self, body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "model": self.model}

    def _timed_out(self, url: str, timeout_s: float) -> Unavailable:
        return Unavailable(
            f"upstream {self.base_url} timed out after {timeout_s}s", details={"upstream": url}
        )

    def _unreachable(self, url: str, e: BaseException) -> Unavailable:
        return Unavailable(
            f"upstream {self.base_url} unreachable: {type(e).__name__}", details={"upstream": url}
        )

    async def call(self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float) -> dict[str, Any]:
        url = f"{self.base_url}/{endpoint}"
        try:
            async with _session().post(
                url, json=self._body(body), headers=self._headers, timeout=_timeout(timeout_s)
            ) as r:
                status, raw = r.status, await r.read()
        except TimeoutError as e:
            raise self._timed_out(url, timeout_s) from e
        except aiohttp.ClientError as e:
            raise self._unreachable(url, e) from e
        if status >= 400:
            raise _upstream_error(status, raw.decode("utf-8", "replace"), self.base_url)
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise Unavailable(
                f"upstream {self.base_url} returned invalid JSON", details={"upstream": url}
            ) from e
        if not isinstance(data, dict):
            raise Unavailable(f"upstream {self.base_url} returned a non-object", details={"upstream": url})
        return data

    async def stream(
        self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float
    ) -> AsyncGenerator[dict[str, Any], None]:
        url = f"{self.base_url}/{endpoint}"
        payload = self._body(body)
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
        try:
            async with _session().post(
                url, json=payload, headers=self._headers, timeout=_timeout(timeout_s)
            ) as r:
                if r.status >= 400:
                    raise _upstream_error(
                        r.status, (await r.read()).decode("utf-8", "replace"), self.base_url
                    )
                async for line in _lines(r.content, url):
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        return
                    try:
                        chunk = json.loads(data)
                    except ValueError as e:
                        raise Unavailable(
                            f"upstream {self.base_url} sent an invalid stream chunk",
                            details={"upstream": url},
                        ) from e
                    if isinstance(chunk, dict) and "error" in chunk:
                        raise _upstream_error(500, data.decode("utf-8", "replace"), self.base_url)
                    if isinstance(chunk, dict):
                        yield chunk
        except TimeoutError as e:
            raise self._timed_out(url, timeout_s) from e
        except aiohttp.ClientError as e:
            raise self._unreachable(url, e) from e


async def _lines(content: aiohttp.StreamReader, url: str) -> AsyncGenerator[bytes, None]:
    """The lines of a streamed body, without their line ends; a line past ``MAX_LINE_BYTES`` is garbage."""
    buf = b""
    async for piece in content.iter_any():
        buf += piece
        if b"\n" not in piece:
            if len(buf) > MAX_LINE_BYTES:
                raise Unavailable("upstream sent a stream line over 16 MiB", details={"upstream": url})
            continue
        *lines, buf = buf.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r")
    if buf:
        yield buf.rstrip(b"\r")
