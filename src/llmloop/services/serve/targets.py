"""What a deployment target is at call time: something that answers OpenAI-shaped requests.

``Target.call`` returns one response body; ``Target.stream`` yields the chunks of a streamed
one. Two kinds exist: ``UpstreamTarget`` (any OpenAI-compatible HTTP API, streamed SSE passed
through, spoken by ``llmloop.engines.openai_upstream``, the one upstream client) and whatever
``serve.engines.resolve_engine`` returns for a registered model. Errors are llmloop's: a client
mistake is ``InvalidInput``; a broken, slow or unreachable target is ``Unavailable`` (which lets
the router fall back).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Literal, Protocol

from llmloop.context import Context
from llmloop.engines.openai_upstream import OpenAIUpstream, close_sessions
from llmloop.errors import Unavailable
from llmloop.security.upstream import upstream_key
from llmloop.services.serve.schemas import TargetSpec

__all__ = ["Endpoint", "Target", "UpstreamTarget", "close_sessions"]

Endpoint = Literal["chat/completions", "completions", "embeddings"]


class Target(Protocol):
    label: str
    model: str

    async def call(self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float) -> dict[str, Any]: ...

    def stream(
        self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float
    ) -> AsyncGenerator[dict[str, Any], None]: ...


class UpstreamTarget:
    """An OpenAI-compatible API at ``spec.upstream`` (for example ``https://api.openai.com/v1``).

    Its key is the one ``spec`` names, sent on behalf of ``owner`` (the deployment revision's
    author) in ``project`` while they may (``security.upstream.upstream_key``); a URL the server
    refuses is ``Unavailable`` here. Not retried: the deployment's router falls back instead.
    """

    def __init__(self, ctx: Context, spec: TargetSpec, *, project: str, owner: str | None) -> None:
        assert spec.upstream is not None
        self.refused: Unavailable | None = None  # raised by each call, so the router falls back
        key = None
        try:
            key = upstream_key(
                ctx,
                project=project,
                url=spec.upstream,
                secret=spec.api_key_secret,
                env=spec.api_key_env,
                owner=owner,
            )
        except Unavailable as e:
            self.refused = e
        self.client = OpenAIUpstream(spec.upstream, api_key=key, max_retries=0)
        self.model = spec.model
        self.label = spec.label

    async def call(self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float) -> dict[str, Any]:
        if self.refused is not None:
            raise self.refused
        return await self.client.apost(f"/{endpoint}", {**body, "model": self.model}, timeout_s=timeout_s)

    def stream(
        self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float
    ) -> AsyncGenerator[dict[str, Any], None]:
        if self.refused is not None:
            return _raising(self.refused)
        return self.client.astream(f"/{endpoint}", {**body, "model": self.model}, timeout_s=timeout_s)


async def _raising(error: Exception) -> AsyncGenerator[dict[str, Any], None]:
    """A stream that fails on its first chunk, as an upstream that could not be reached."""
    raise error
    yield {}  # pragma: no cover - makes this an async generator
