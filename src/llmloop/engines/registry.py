"""Engines by kind: the built-ins and installed plugins, both through the entry-point group ``llmloop.engines``.

Built-ins go through the same path as plugins: ``BUILTINS`` holds entry-point values
(``module:attribute``) that our own ``pyproject.toml`` also declares under ``llmloop.engines``
(a test keeps the two equal). They are kept here too so a source checkout that is not
installed still finds them. A plugin's target is a callable taking a ``ModelSpec`` and
returning an ``InferenceEngine`` (usually the engine class); it is ``load()``ed only when its
kind is chosen, so listing kinds costs nothing. A plugin cannot take over a built-in name: a
stray package must not silently change what ``engine: transformers`` means.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

from llmloop.engines.protocol import InferenceEngine
from llmloop.engines.spec import ModelSpec
from llmloop.errors import InvalidInput, Unavailable

GROUP = "llmloop.engines"

BUILTINS: dict[str, str] = {
    "transformers": "llmloop.engines.transformers_engine:TransformersEngine",
    "llamacpp": "llmloop.engines.llamacpp_engine:LlamaCppEngine",
    "vllm": "llmloop.engines.vllm_engine:VLLMEngine",
    "openai": "llmloop.engines.openai_upstream:OpenAIEngine",
}

EngineFactory = Callable[[ModelSpec], InferenceEngine]


@functools.lru_cache(maxsize=1)
def installed() -> dict[str, EntryPoint]:
    """Plugin entry points of installed distributions, built-in names left out (cached: call ``cache_clear`` after installing)."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        if ep.name not in BUILTINS:
            found.setdefault(ep.name, ep)
    return found


def names() -> list[str]:
    """Every engine kind that can be asked for: built-ins first, then plugins, sorted."""
    return [*BUILTINS, *sorted(installed())]


def entry(kind: str) -> EntryPoint:
    """The entry point serving ``kind``; an unknown kind is ``InvalidInput`` listing the known ones."""
    if kind in BUILTINS:
        return EntryPoint(name=kind, value=BUILTINS[kind], group=GROUP)
    ep = installed().get(kind)
    if ep is None:
        known = names()
        close = difflib.get_close_matches(kind, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InvalidInput(
            f"engine {kind!r} is unknown; {hint}choose one of {', '.join(known)}",
            details={
                "field": "engine",
                "engine": kind,
                "known": known,
                "did_you_mean": close[0] if close else None,
            },
        )
    return ep


def create(kind: str, spec: ModelSpec) -> InferenceEngine:
    """A new engine of ``kind`` serving ``spec`` (not cached: ``llmloop.engines.load_engine`` caches)."""
    ep = entry(kind)
    try:
        factory: EngineFactory = ep.load()
    except (ImportError, AttributeError) as e:
        raise Unavailable(
            f"engine {kind!r} could not be loaded from {ep.value}: {e}", details={"engine": kind}
        ) from e
    engine = factory(spec)
    if not isinstance(engine, InferenceEngine):
        close = getattr(engine, "close", None)
        if callable(close):
            close()
        raise InvalidInput(
            f"engine {kind!r} ({ep.value}) built a {type(engine).__name__}, which is not an InferenceEngine "
            "(it needs kind, model, chat, complete, embed and close)",
            details={"engine": kind},
        )
    return engine
