"""The seam between deployments and local inference engines.

``resolve_engine(ctx, model_name)`` turns a model reference into a ``Target``. It imports
``llmloop.engines`` lazily: where that package is absent (or cannot serve the model) the
answer is ``NotFound`` naming the model, so the gateway answers 404 in OpenAI's shape.
``set_engine_resolver`` lets whoever wires registered models replace the resolution.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncGenerator, Callable
from typing import Any

from llmloop.context import Context
from llmloop.errors import NotFound
from llmloop.serve.targets import Endpoint, Target

EngineResolver = Callable[[Context, str], Target]
_resolver: EngineResolver | None = None


def set_engine_resolver(resolver: EngineResolver | None) -> EngineResolver | None:
    """Install how registered model names become targets; returns the previous resolver."""
    global _resolver
    previous, _resolver = _resolver, resolver
    return previous


class EngineTarget:
    """An ``llmloop.engines`` InferenceEngine driven from the event loop (its iterators run on threads)."""

    def __init__(self, model: str, engine: Any, base: Any) -> None:
        self.model = model
        self.label = model
        self._engine = engine
        self._base = base

    def _request(self, endpoint: Endpoint, body: dict[str, Any]) -> Any:
        cls = {
            "chat/completions": self._base.ChatRequest,
            "completions": self._base.CompletionRequest,
            "embeddings": self._base.EmbeddingRequest,
        }[endpoint]
        return cls.model_validate({k: v for k, v in body.items() if k in cls.model_fields})

    async def call(self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float) -> dict[str, Any]:
        req = self._request(endpoint, body)
        if endpoint == "embeddings":
            result = await asyncio.wait_for(asyncio.to_thread(self._engine.embed, req), timeout_s)
        elif endpoint == "chat/completions":
            result = await asyncio.wait_for(
                asyncio.to_thread(lambda: self._base.collect_chat(self._engine.chat(req))), timeout_s
            )
        else:
            result = await asyncio.wait_for(
                asyncio.to_thread(lambda: self._base.collect_completion(self._engine.complete(req))),
                timeout_s,
            )
        out: dict[str, Any] = result.model_dump(mode="json")
        return out

    async def stream(
        self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float
    ) -> AsyncGenerator[dict[str, Any], None]:
        req = self._request(endpoint, body)
        it = self._engine.chat(req) if endpoint == "chat/completions" else self._engine.complete(req)
        done = object()
        try:
            while True:
                chunk: Any = await asyncio.wait_for(asyncio.to_thread(next, it, done), timeout_s)
                if chunk is done:
                    return
                yield chunk.model_dump(mode="json", exclude_none=True)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                await asyncio.to_thread(close)


def resolve_engine(ctx: Context, model_name: str) -> Target:
    """A target serving registered model ``model_name``; ``NotFound`` when nothing can serve it."""
    if _resolver is not None:
        return _resolver(ctx, model_name)
    engines: Any = None
    base: Any = None
    try:
        engines = importlib.import_module("llmloop.engines")
        base = importlib.import_module("llmloop.engines.base")
    except ImportError:
        pass
    load = getattr(engines, "engine_for_model", None)
    if load is None:
        raise NotFound(
            f"model {model_name!r} not found: no deployment has this name and no local engine serves it",
            details={"model": model_name},
        )
    return EngineTarget(model_name, load(ctx, model_name), base)
