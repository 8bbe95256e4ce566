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

from llmloop.engines.openai_upstream import OpenAIUpstream, close_sessions
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

    Not retried here: the deployment's router falls back to its next target instead.
    """

    def __init__(self, spec: TargetSpec) -> None:
        assert spec.upstream is not None
        self.client = OpenAIUpstream(spec.upstream, api_key_env=spec.api_key_env, max_retries=0)
        self.model = spec.model
        self.label = spec.label

    async def call(self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float) -> dict[str, Any]:
        return await self.client.apost(f"/{endpoint}", {**body, "model": self.model}, timeout_s=timeout_s)

    def stream(
        self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float
    ) -> AsyncGenerator[dict[str, Any], None]:
        return self.client.astream(f"/{endpoint}", {**body, "model": self.model}, timeout_s=timeout_s)
