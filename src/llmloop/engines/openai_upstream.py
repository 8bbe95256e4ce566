"""The one client for OpenAI-compatible upstreams (OpenAI, vLLM, TGI, Ollama, llama.cpp's server...).

``OpenAIUpstream`` knows how such an API is spoken and how it fails: the key asked of the key
source it was given at each request (``security.upstream.UpstreamKey``, which decides whether
the key may be sent; this client never reads the environment), never logged; a timeout
on every wait, retries with exponential backoff on connect errors, 429 and 5xx (never once a
stream has started, so no answer is duplicated), server-sent events up to ``[DONE]``, and one
mapping of what went wrong to llmloop's errors: 404 ``NotFound``, 429 ``RateLimited``, another
4xx ``InvalidInput``, a 5xx, a timeout, a refused connection or a body that is not JSON
``Unavailable``, each naming the upstream by its masked URL, with the upstream's own words passed
through ``config.mask_secrets`` (a server may echo the Authorization header it was sent). A
misbehaving server cannot hang or crash a caller.

It has two transports over that one protocol: ``post``/``stream`` (httpx, blocking) for
``OpenAIEngine`` and ``VLLMEngine``, which run on callers' threads, and ``apost``/``astream``
(aiohttp) for the gateway's upstream targets, on the event loop: aiohttp's C parser and thinner
layers make an upstream call several times cheaper, which is most of what the gateway adds to a
request (benchmarks/bench_gateway.py).

``OpenAIEngine`` is the ``openai`` engine: chat, completions and embeddings of one model version
forwarded to its ``Upstream``, answers checked against OpenAI's shapes.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any, TypeVar

import aiohttp
import httpx
from pydantic import BaseModel, ValidationError

from llmloop.config import mask_secrets
from llmloop.engines.protocol import closed
from llmloop.engines.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    ChunkChoice,
    ChunkDelta,
    CompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
    TextCompletion,
    TextCompletionChunk,
)
from llmloop.engines.spec import ModelSpec, Upstream
from llmloop.errors import InvalidInput, LlmloopError, NotFound, RateLimited, Unavailable

BACKOFF_S = 0.25
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_LINE_BYTES = 16 * 1024 * 1024
M = TypeVar("M", bound=BaseModel)
KeySource = Callable[[], str]  # the key to send now; raises Unavailable when it may not be sent


class OpenAIUpstream:
    """One OpenAI-compatible API at ``base_url`` (e.g. ``https://api.openai.com/v1``); thread-safe.

    ``max_retries`` is how many times a failed attempt is repeated (0 for the gateway, whose
    router falls back to another target instead). ``timeout_s`` bounds each wait (connecting,
    the answer, each streamed piece), not a whole long stream. ``url`` is the base URL as shown in
    messages (masked); requests go to the real one.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: KeySource | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self.url = mask_secrets(self._base)
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._client: httpx.Client | None = None  # made on first blocking call
        self.closed = False

    # ------------------------------------------------------------ the protocol (both transports)

    def headers(self) -> dict[str, str]:
        """The Authorization header from the key source; its ``Unavailable`` names this upstream."""
        if self.api_key is None:
            return {}
        try:
            key = self.api_key()
        except Unavailable as e:
            raise Unavailable(
                f"upstream {self.url}: {e.message}", details={**e.details, "upstream": self.url}
            ) from None
        return {"Authorization": f"Bearer {key}"}

    async def aheaders(self) -> dict[str, str]:
        """``headers`` off the event loop when a key source may read the store."""
        return await asyncio.to_thread(self.headers) if self.api_key is not None else {}

    def fail(self, what: str) -> Unavailable:
        return Unavailable(f"upstream {self.url}: {what}", details={"upstream": self.url})

    def error(self, status: int, text: str, *, attempts: int = 1) -> LlmloopError:
        """The llmloop error for an upstream's HTTP error answer (its message cut short: it may echo the request)."""
        message = mask_secrets(_error_message(text))
        tried = f" after {attempts} attempt(s)" if attempts > 1 else ""
        details = {"upstream": self.url, "status": status}
        if status == 404:
            return NotFound(f"upstream {self.url} answered HTTP 404: {message}", details=details)
        if status == 429:
            return RateLimited(f"upstream {self.url} answered HTTP 429{tried}: {message}", details=details)
        if 400 <= status < 500:
            return InvalidInput(
                f"upstream {self.url} refused the request (HTTP {status}): {message}", details=details
            )
        return Unavailable(f"upstream {self.url} answered HTTP {status}{tried}: {message}", details=details)

    def timed_out(self, timeout_s: float, *, streaming: bool = False) -> Unavailable:
        if streaming:
            return self.fail(f"stalled for more than {timeout_s:g} s while streaming (timed out)")
        return self.fail(f"no answer within {timeout_s:g} s (timed out)")

    def unreachable(self, e: BaseException, attempts: int) -> Unavailable:
        tried = f" after {attempts} attempt(s)" if attempts > 1 else ""
        return self.fail(f"cannot connect ({type(e).__name__}){tried}")

    def decode(self, raw: bytes) -> dict[str, Any]:
        """A response body as a JSON object; anything else is ``Unavailable``."""
        try:
            data = json.loads(raw)
        except ValueError:
            raise self.fail("answered something that is not JSON") from None
        if not isinstance(data, dict):
            raise self.fail("answered JSON that is not an object")
        return data

    def _attempts(self) -> range:
        return range(self.max_retries + 1)

    @staticmethod
    def _backoff_s(attempt: int) -> float:
        return BACKOFF_S * 2 ** (attempt - 1) if attempt else 0.0

    @staticmethod
    def _streaming(body: dict[str, Any]) -> dict[str, Any]:
        # usage is always asked for: traces and token limits need it even when the caller did not
        return {**body, "stream": True, "stream_options": {"include_usage": True}}

    # ------------------------------------------------------------ blocking transport (httpx)

    def _http(self) -> httpx.Client:
        if self.closed:
            raise self.fail("the client was closed")
        if self._client is None:
            t = self.timeout_s
            self._client = httpx.Client(timeout=httpx.Timeout(t, connect=min(t, 10.0)))
        return self._client

    def _send(self, path: str, body: dict[str, Any], *, stream: bool) -> httpx.Response:
        """The upstream's 2xx response, after retries; the caller closes it when streaming."""
        client, headers = self._http(), self.headers()
        for attempt in self._attempts():
            time.sleep(self._backoff_s(attempt))
            last_try = attempt == self.max_retries
            try:
                req = client.build_request("POST", self._base + path, json=body, headers=headers)
                resp = client.send(req, stream=stream)
            except httpx.TimeoutException:
                raise self.timed_out(self.timeout_s) from None
            except httpx.TransportError as e:
                if last_try:
                    raise self.unreachable(e, attempt + 1) from None
                continue
            if resp.status_code < 300:
                return resp
            text = resp.read().decode("utf-8", "replace")
            resp.close()
            if resp.status_code not in RETRY_STATUS or last_try:
                raise self.error(resp.status_code, text, attempts=attempt + 1)
        raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``base_url + path``; the answer as a JSON object."""
        return self.decode(self._send(path, body, stream=False).content)

    def post_text(self, path: str, body: dict[str, Any]) -> str:
        """POST for an endpoint that answers plain text (vLLM's ``/load_lora_adapter``)."""
        return self._send(path, body, stream=False).text

    def stream(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The streamed chunks of ``body`` (sent with ``stream`` and usage on), until ``[DONE]``."""
        resp = self._send(path, self._streaming(body), stream=True)
        events = _Events(self)
        try:
            for piece in resp.iter_bytes():
                yield from events.feed(piece)
                if events.done:
                    return
            yield from events.end()
        except httpx.TimeoutException:
            raise self.timed_out(self.timeout_s, streaming=True) from None
        except httpx.TransportError as e:
            raise self.fail(f"connection lost while streaming ({type(e).__name__})") from None
        finally:
            resp.close()

    # ------------------------------------------------------------ event-loop transport (aiohttp)

    async def apost(
        self, path: str, body: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        t = self.timeout_s if timeout_s is None else timeout_s
        headers = await self.aheaders()
        for attempt in self._attempts():
            await asyncio.sleep(self._backoff_s(attempt))
            try:
                async with _session().post(
                    self._base + path, json=body, headers=headers, timeout=_timeout(t)
                ) as r:
                    status, raw = r.status, await r.read()
            except TimeoutError:
                raise self.timed_out(t) from None
            except aiohttp.ClientError as e:
                if attempt == self.max_retries:
                    raise self.unreachable(e, attempt + 1) from None
                continue
            if status < 300:
                return self.decode(raw)
            if status not in RETRY_STATUS or attempt == self.max_retries:
                raise self.error(status, raw.decode("utf-8", "replace"), attempts=attempt + 1)
        raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises

    async def astream(
        self, path: str, body: dict[str, Any], *, timeout_s: float | None = None
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The streamed chunks of ``body``; not retried (the router falls back instead)."""
        t = self.timeout_s if timeout_s is None else timeout_s
        headers, events = await self.aheaders(), _Events(self)
        try:
            async with _session().post(
                self._base + path, json=self._streaming(body), headers=headers, timeout=_timeout(t)
            ) as r:
                if r.status >= 300:
                    raise self.error(r.status, (await r.read()).decode("utf-8", "replace"))
                async for piece in r.content.iter_any():
                    for chunk in events.feed(piece):
                        yield chunk
                    if events.done:
                        return
                for chunk in events.end():
                    yield chunk
        except TimeoutError:
            raise self.timed_out(t, streaming=True) from None
        except aiohttp.ClientError as e:
            raise self.unreachable(e, 1) from None

    def close(self) -> None:
        self.closed = True
        if self._client is not None:
            self._client.close()


class _Events:
    """The JSON chunks of a server-sent-events body fed in pieces; ``done`` once ``[DONE]`` arrived."""

    def __init__(self, upstream: OpenAIUpstream) -> None:
        self._upstream = upstream
        self._buf = b""
        self.done = False

    def feed(self, piece: bytes) -> list[dict[str, Any]]:
        self._buf += piece
        if b"\n" not in piece:
            if len(self._buf) > MAX_LINE_BYTES:
                raise self._upstream.fail("sent a stream line over 16 MiB")
            return []
        *lines, self._buf = self._buf.split(b"\n")
        return self._chunks(lines)

    def end(self) -> list[dict[str, Any]]:
        rest, self._buf = self._buf, b""
        return self._chunks([rest]) if rest else []

    def _chunks(self, lines: list[bytes]) -> list[dict[str, Any]]:
        out = []
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                self.done = True
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                raise self._upstream.fail("streamed a chunk that is not JSON") from None
            if isinstance(chunk, dict) and "error" in chunk:
                raise self._upstream.error(500, data.decode("utf-8", "replace"))
            if isinstance(chunk, dict):
                out.append(chunk)
        return out


def _error_message(text: str) -> str:
    """The message of an OpenAI-style error body (or FastAPI's ``detail``), else the body's start."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    msg: Any = None
    if isinstance(body, dict):
        err = body.get("error")
        msg = err.get("message") if isinstance(err, dict) else err
        msg = msg or body.get("detail") or body.get("message")
    return str(msg or text or "error")[:300]


# One connection pool per event loop: a session must not outlive or cross the loop it was made on.
_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
    weakref.WeakKeyDictionary()
)


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


class OpenAIEngine:
    """The ``openai`` engine: one model version served by ``spec.upstream``; thread-safe."""

    kind = "openai"

    def __init__(self, spec: ModelSpec) -> None:
        if spec.upstream is None:
            raise InvalidInput(
                f"{spec.ref}: the {self.kind} engine needs an upstream (base_url, model)",
                details={"model": spec.ref},
            )
        self.spec = spec
        self.upstream: Upstream = spec.upstream
        self.model = spec.ref
        self.client = OpenAIUpstream(
            self.upstream.base_url,
            api_key=self.upstream.api_key,
            timeout_s=self.upstream.timeout_s,
            max_retries=self.upstream.max_retries,
        )

    def _body(self, request: BaseModel) -> dict[str, Any]:
        if self.client.closed:
            raise closed(self.model)
        body = request.model_dump(exclude_none=True, exclude={"truncation", "stream_options"})
        body["model"] = self.upstream.model
        return body

    def _parse(self, data: dict[str, Any], cls: type[M], what: str = "answered") -> M:
        try:
            return cls.model_validate(data).model_copy(update={"model": self.model})
        except (ValidationError, LlmloopError):
            raise self.client.fail(f"{what} something that is not an OpenAI {cls.__name__}") from None

    def chat(self, request: ChatRequest) -> Iterator[ChatCompletionChunk]:
        body = self._body(request)
        if request.stream:
            stream = self.client.stream("/chat/completions", body)
            return (self._parse(c, ChatCompletionChunk, "streamed") for c in stream)
        return self._chat_once(body)

    def _chat_once(self, body: dict[str, Any]) -> Iterator[ChatCompletionChunk]:
        full = self._parse(self.client.post("/chat/completions", body), ChatCompletion)
        if not full.choices:
            raise self.client.fail("answered a chat completion without choices")
        choice = full.choices[0]
        delta = ChunkDelta(role="assistant", content=choice.message.content)
        yield ChatCompletionChunk(
            id=full.id,
            created=full.created,
            model=self.model,
            choices=[ChunkChoice(delta=delta, finish_reason=choice.finish_reason)],
            usage=full.usage,
        )

    def complete(self, request: CompletionRequest) -> Iterator[TextCompletionChunk]:
        body = self._body(request)
        if request.stream:
            stream = self.client.stream("/completions", body)
            return (self._parse(c, TextCompletionChunk, "streamed") for c in stream)
        return self._complete_once(body)

    def _complete_once(self, body: dict[str, Any]) -> Iterator[TextCompletionChunk]:
        full = self._parse(self.client.post("/completions", body), TextCompletion)
        if not full.choices:
            raise self.client.fail("answered a completion without choices")
        yield TextCompletionChunk(
            id=full.id, created=full.created, model=self.model, choices=full.choices[:1], usage=full.usage
        )

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        return self._parse(self.client.post("/embeddings", self._body(request)), EmbeddingResponse)

    def close(self) -> None:
        self.client.close()
