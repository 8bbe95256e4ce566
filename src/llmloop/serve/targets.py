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

import httpx

from llmloop.errors import InvalidInput, LlmloopError, NotFound, RateLimited, Unavailable
from llmloop.serve.schemas import TargetSpec

Endpoint = Literal["chat/completions", "completions", "embeddings"]


class Target(Protocol):
    label: str
    model: str

    async def call(self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float) -> dict[str, Any]: ...

    def stream(
        self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float
    ) -> AsyncGenerator[dict[str, Any], None]: ...


# One connection pool per event loop: a client must not outlive or cross the loop it was made on.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def _client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=256, max_keepalive_connections=64))
        _clients[loop] = client
    return client


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

    async def call(self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float) -> dict[str, Any]:
        url = f"{self.base_url}/{endpoint}"
        try:
            r = await _client().post(url, json=self._body(body), headers=self._headers, timeout=timeout_s)
        except httpx.TimeoutException as e:
            raise Unavailable(
                f"upstream {self.base_url} timed out after {timeout_s}s", details={"upstream": url}
            ) from e
        except httpx.HTTPError as e:
            raise Unavailable(
                f"upstream {self.base_url} unreachable: {type(e).__name__}", details={"upstream": url}
            ) from e
        if r.status_code >= 400:
            raise _upstream_error(r.status_code, r.text, self.base_url)
        try:
            data = r.json()
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
            async with _client().stream(
                "POST", url, json=payload, headers=self._headers, timeout=timeout_s
            ) as r:
                if r.status_code >= 400:
                    raise _upstream_error(
                        r.status_code, (await r.aread()).decode("utf-8", "replace"), self.base_url
                    )
                async for line in r.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        chunk = json.loads(data)
                    except ValueError as e:
                        raise Unavailable(
                            f"upstream {self.base_url} sent an invalid stream chunk",
                            details={"upstream": url},
                        ) from e
                    if isinstance(chunk, dict) and "error" in chunk:
                        raise _upstream_error(500, data, self.base_url)
                    if isinstance(chunk, dict):
                        yield chunk
        except httpx.TimeoutException as e:
            raise Unavailable(
                f"upstream {self.base_url} timed out after {timeout_s}s", details={"upstream": url}
            ) from e
        except httpx.HTTPError as e:
            raise Unavailable(
                f"upstream {self.base_url} unreachable: {type(e).__name__}", details={"upstream": url}
            ) from e
