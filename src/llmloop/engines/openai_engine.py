"""An OpenAI-compatible upstream (OpenAI, vLLM, TGI, Ollama, llama.cpp's server...) as an engine.

The API key is read from the environment variable the ``Upstream`` names at each request
(never stored, never logged). Every request has a timeout; connect errors, 429 and 5xx are
retried with exponential backoff up to ``Upstream.max_retries`` times (never once streaming
has started, so no answer is duplicated); what is left is ``Unavailable`` naming the upstream
and what went wrong. A body that is not the shape OpenAI documents is ``Unavailable`` too,
so a misbehaving server cannot hang or crash a caller.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from llmloop.engines.base import (
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
from llmloop.errors import InvalidInput, LlmloopError, Unavailable

BACKOFF_S = 0.25
_RETRY_STATUS = {429, 500, 502, 503, 504}
M = TypeVar("M", bound=BaseModel)


class OpenAIEngine:
    """Chat, completions and embeddings forwarded to ``spec.upstream``; thread-safe (one httpx client)."""

    kind = "openai"

    def __init__(self, spec: ModelSpec) -> None:
        if spec.upstream is None:
            raise InvalidInput(
                f"{spec.ref}: the openai engine needs an upstream (base_url, model)",
                details={"model": spec.ref},
            )
        self.spec = spec
        self.upstream: Upstream = spec.upstream
        self.model = spec.ref
        self._url = self.upstream.base_url.rstrip("/")
        t = self.upstream.timeout_s
        self._client = httpx.Client(timeout=httpx.Timeout(t, connect=min(t, 10.0)))

    # ------------------------------------------------------------ plumbing

    def _headers(self) -> dict[str, str]:
        env = self.upstream.api_key_env
        if not env:
            return {}
        key = os.environ.get(env)
        if not key:
            raise Unavailable(
                f"upstream {self._url}: the API key variable {env} is not set in the environment",
                details={"upstream": self._url, "env": env},
            )
        return {"Authorization": f"Bearer {key}"}

    def _fail(self, what: str) -> Unavailable:
        return Unavailable(f"upstream {self._url}: {what}", details={"upstream": self._url})

    def _send(self, path: str, body: dict[str, Any], *, stream: bool) -> httpx.Response:
        """The upstream's response (status 2xx), after retries; the caller closes it when streaming."""
        headers = self._headers()
        attempts = self.upstream.max_retries + 1
        last = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(BACKOFF_S * 2 ** (attempt - 1))
            try:
                req = self._client.build_request("POST", self._url + path, json=body, headers=headers)
                resp = self._client.send(req, stream=stream)
            except httpx.TimeoutException:
                raise self._fail(f"no answer within {self.upstream.timeout_s:g} s (timeout)") from None
            except httpx.TransportError as e:
                last = f"cannot connect ({type(e).__name__})"
                continue
            if resp.status_code < 300:
                return resp
            if stream:
                resp.read()
                resp.close()
            if resp.status_code in _RETRY_STATUS:
                last = f"answered HTTP {resp.status_code}"
                continue
            detail = _error_message(resp)
            if resp.status_code in (400, 404, 422):
                raise InvalidInput(
                    f"upstream {self._url} refused the request (HTTP {resp.status_code}): {detail}",
                    details={"upstream": self._url, "status": resp.status_code},
                )
            raise self._fail(f"answered HTTP {resp.status_code}: {detail}")
        raise self._fail(f"{last} after {attempts} attempt(s)")

    def _body(self, request: BaseModel, **extra: Any) -> dict[str, Any]:
        body = request.model_dump(exclude_none=True, exclude={"truncation", "stream_options"})
        body.update(model=self.upstream.model, **extra)
        return body

    def _json(self, resp: httpx.Response, cls: type[M]) -> M:
        try:
            return cls.model_validate(resp.json())
        except (ValueError, ValidationError, LlmloopError):
            raise self._fail(f"answered something that is not an OpenAI {cls.__name__}") from None

    def _stream(self, path: str, body: dict[str, Any], cls: type[M]) -> Iterator[M]:
        resp = self._send(path, body, stream=True)
        try:
            try:
                for line in resp.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        yield cls.model_validate(json.loads(data))
                    except (ValueError, ValidationError, LlmloopError):
                        raise self._fail(f"streamed something that is not an OpenAI {cls.__name__}") from None
            except httpx.TimeoutException:
                raise self._fail(
                    f"stalled for more than {self.upstream.timeout_s:g} s while streaming"
                ) from None
            except httpx.TransportError as e:
                raise self._fail(f"connection lost while streaming ({type(e).__name__})") from None
        finally:
            resp.close()

    def _model(self, obj: M) -> M:
        return obj.model_copy(update={"model": self.model})

    # ------------------------------------------------------------ the interface

    def chat(self, request: ChatRequest) -> Iterator[ChatCompletionChunk]:
        if request.stream:
            body = self._body(request, stream=True, stream_options={"include_usage": True})
            return (self._model(c) for c in self._stream("/chat/completions", body, ChatCompletionChunk))
        return self._chat_once(request)

    def _chat_once(self, request: ChatRequest) -> Iterator[ChatCompletionChunk]:
        body = self._body(request, stream=False)
        full = self._json(self._send("/chat/completions", body, stream=False), ChatCompletion)
        if not full.choices:
            raise self._fail("answered a chat completion without choices")
        choice = full.choices[0]
        yield ChatCompletionChunk(
            id=full.id,
            created=full.created,
            model=self.model,
            choices=[
                ChunkChoice(
                    delta=ChunkDelta(role="assistant", content=choice.message.content),
                    finish_reason=choice.finish_reason,
                )
            ],
            usage=full.usage,
        )

    def complete(self, request: CompletionRequest) -> Iterator[TextCompletionChunk]:
        if request.stream:
            body = self._body(request, stream=True, stream_options={"include_usage": True})
            return (self._model(c) for c in self._stream("/completions", body, TextCompletionChunk))
        return self._complete_once(request)

    def _complete_once(self, request: CompletionRequest) -> Iterator[TextCompletionChunk]:
        full = self._json(
            self._send("/completions", self._body(request, stream=False), stream=False), TextCompletion
        )
        if not full.choices:
            raise self._fail("answered a completion without choices")
        yield TextCompletionChunk(
            id=full.id, created=full.created, model=self.model, choices=full.choices[:1], usage=full.usage
        )

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        return self._model(
            self._json(self._send("/embeddings", self._body(request), stream=False), EmbeddingResponse)
        )

    def close(self) -> None:
        self._client.close()


def _error_message(resp: httpx.Response) -> str:
    """The upstream's error message, cut short (never the whole body: it may echo the request)."""
    try:
        body = resp.json()
        msg = body.get("error", {}).get("message") if isinstance(body, dict) else None
        if isinstance(body, dict) and msg is None:
            msg = body.get("detail") or body.get("message")
    except ValueError:
        msg = None
    return str(msg or resp.reason_phrase or "error")[:300]
