"""The seam between deployments and local inference engines.

``resolve_engine(ctx, model_name)`` turns a registered model reference (``travel-sft@champion``,
``smollm2-135m-instruct``) into a ``Target`` served by ``llmloop.services.registry.inference``: the
reference is pinned to a version, and the version's engine is loaded once and cached by the
engines layer. An unknown reference is ``NotFound`` naming the model, so the gateway answers
404 in OpenAI's shape. ``set_engine_resolver`` lets a test or an embedding app replace it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

from pydantic import ValidationError

from llmloop.context import Context
from llmloop.errors import NotFound
from llmloop.services.serve.targets import Endpoint, Target
from llmloop.validation import format_validation_error

EngineResolver = Callable[[Context, str], Target]
_resolver: EngineResolver | None = None


def set_engine_resolver(resolver: EngineResolver | None) -> EngineResolver | None:
    """Install how registered model names become targets; returns the previous resolver."""
    global _resolver
    previous, _resolver = _resolver, resolver
    return previous


class EngineTarget:
    """An ``llmloop.engines`` InferenceEngine driven from the event loop (its iterators run on threads)."""

    def __init__(self, model: str, engine: Any, base: Any, *, version: str | None = None) -> None:
        self.model = model
        self.label = model
        self.version = version  # the pinned NAME@VERSION ``model`` resolved to
        self._engine = engine
        self._base = base

    def _request(self, endpoint: Endpoint, body: dict[str, Any]) -> Any:
        """The engine's request; what its schema refuses is the caller's mistake (400), not a bug."""
        cls = {
            "chat/completions": self._base.ChatRequest,
            "completions": self._base.CompletionRequest,
            "embeddings": self._base.EmbeddingRequest,
        }[endpoint]
        try:
            return cls.model_validate({k: v for k, v in body.items() if k in cls.model_fields})
        except ValidationError as e:
            raise format_validation_error(e, model=cls, detail_name="field") from None

    async def call(self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float) -> dict[str, Any]:
        """A whole answer, generated chunk by chunk as ``stream`` does, so that a caller cancelling
        (its client left, or the timeout) stops the engine between tokens instead of leaving a
        thread generating for nobody."""
        if endpoint == "embeddings":
            req = self._request(endpoint, body)
            result = await asyncio.wait_for(asyncio.to_thread(self._engine.embed, req), timeout_s)
        else:

            async def collect() -> list[Any]:
                async with contextlib.aclosing(self._chunks(endpoint, body, timeout_s=timeout_s)) as it:
                    return [c async for c in it]

            chunks = await asyncio.wait_for(collect(), timeout_s)
            chat = endpoint == "chat/completions"
            result = (self._base.collect_chat if chat else self._base.collect_completion)(iter(chunks))
        out: dict[str, Any] = result.model_dump(mode="json")
        return out

    async def stream(
        self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float
    ) -> AsyncGenerator[dict[str, Any], None]:
        async with contextlib.aclosing(self._chunks(endpoint, body, timeout_s=timeout_s)) as it:
            async for chunk in it:
                yield chunk.model_dump(mode="json", exclude_none=True)

    async def _chunks(
        self, endpoint: Endpoint, body: dict[str, Any], *, timeout_s: float
    ) -> AsyncGenerator[Any, None]:
        """The engine's chunks, each ``next`` on a worker thread (at most ``timeout_s`` apart)."""
        req = self._request(endpoint, body)
        it = self._engine.chat(req) if endpoint == "chat/completions" else self._engine.complete(req)
        done = object()
        step: asyncio.Future[Any] | None = None
        try:
            while True:
                step = asyncio.ensure_future(asyncio.to_thread(next, it, done))
                # shield: a timeout must not orphan the thread still inside next(it)
                chunk: Any = await asyncio.wait_for(asyncio.shield(step), timeout_s)
                if chunk is done:
                    return
                yield chunk
        finally:
            # Closing stops the engine generating for a client that left or timed out; a generator
            # cannot be closed while another thread is inside it, so then it is closed right after.
            if step is not None and not step.done():
                step.add_done_callback(lambda _: _close(it))
            else:
                await asyncio.to_thread(_close, it)


def _close(it: Any) -> None:
    close = getattr(it, "close", None)
    if close is not None:
        close()


# Pinning a reference costs a few queries; a request should not pay them. An alias move is seen
# within RESOLVE_TTL_S (the engine itself is cached by the engines layer, by the whole served spec).
RESOLVE_TTL_S = 5.0
_resolved: dict[tuple[str, str, str], tuple[float, Target]] = {}


def resolve_engine(ctx: Context, model_name: str, *, project: str | None = None) -> Target:
    """A target serving registered model ``model_name`` in ``project`` (default: the default project);
    ``NotFound`` when none."""
    if _resolver is not None:
        return _resolver(ctx, model_name)
    project = project or ctx.settings.default_project
    key = (ctx.settings.resolved_database_url, project, model_name)  # one per store and project
    hit = _resolved.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < RESOLVE_TTL_S:
        return hit[1]
    target = _resolve_registered(ctx, model_name, project)
    if len(_resolved) > 1000:
        _resolved.clear()
    _resolved[key] = (now, target)
    return target


def _resolve_registered(ctx: Context, model_name: str, project: str) -> Target:
    from llmloop.engines import schemas
    from llmloop.services.registry.inference import engine_for

    try:
        version, engine = engine_for(ctx, model=model_name, project=project)
    except NotFound as e:
        raise NotFound(
            f"model {model_name!r} not found: no deployment has this name and no registered model "
            f"matches it ({e.message})",
            details={"model": model_name},
        ) from e
    return EngineTarget(model_name, engine, schemas, version=version.ref)
