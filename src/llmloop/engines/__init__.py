"""Inference engines: one interface (``InferenceEngine``) for every way llmloop generates text.

Engines are found by kind in the entry-point group ``llmloop.engines`` (``engines.registry``:
the built-ins transformers, llamacpp, vllm and openai, and any installed plugin).
``load_engine(spec, kind)`` turns a ``ModelSpec`` (from the registry) into a running engine:
loaded on first use, shared by every caller asking for the same kind and the same whole spec
(``served_identity``: weights, adapter, quantization, options such as dtype, and the version the
engine names in its answers), and closed after it has been idle for ``idle_timeout_s`` (a background reaper checks; ``release_idle``
does it on demand, ``release_all`` at shutdown). Loading happens outside the cache lock, one
load per key at a time, so a slow load of one model does not block callers of another.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from llmloop.engines import registry
from llmloop.engines.llamacpp_engine import llama_cpp_available
from llmloop.engines.protocol import InferenceEngine
from llmloop.engines.spec import EngineKind, ModelSpec, Upstream
from llmloop.errors import InvalidInput

__all__ = [
    "EngineKind",
    "InferenceEngine",
    "ModelSpec",
    "Upstream",
    "default_kind",
    "load_engine",
    "loaded",
    "release_all",
    "release_idle",
    "served_identity",
    "set_idle_timeout",
]

DEFAULT_IDLE_TIMEOUT_S = 600.0


@dataclass
class _Slot:
    lock: threading.Lock
    label: tuple[str, str]  # (kind, weights key): what ``loaded`` and ``release_idle`` report
    engine: Any = None
    last_used: float = 0.0


_lock = threading.Lock()
_slots: dict[tuple[str, str], _Slot] = {}  # (kind, served_identity) -> slot
_idle_timeout_s = DEFAULT_IDLE_TIMEOUT_S
_reaper: threading.Thread | None = None
_wake = threading.Event()  # set when the timeout changes, so the reaper rechecks at the new pace


def default_kind(spec: ModelSpec) -> EngineKind:
    """The version's own choice, else llama.cpp for GGUF (when installed), transformers for folders, openai upstream."""
    if spec.default_engine is not None:
        return spec.default_engine
    if spec.base_kind == "upstream":
        return "openai"
    if spec.base_kind == "gguf" and spec.adapter_dir is None and llama_cpp_available():
        return "llamacpp"
    return "transformers"


def served_identity(spec: ModelSpec) -> str:
    """A digest of every field of ``spec``: what one cached engine serves, and nothing else may share.

    Weights alone are not enough: the same weights quantised or not, with another chat template,
    context length or dtype answer differently, and ``ref`` is the version an engine names in
    every response, so two versions never share an engine and each answer names its own version.
    A field added to ``ModelSpec`` is part of the identity without anyone remembering to add it.
    """
    text = json.dumps(_identity(spec), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _identity(value: Any) -> Any:
    """A dataclass as plain values, field by field. A callable (an upstream's key source) is not
    copied, which ``dataclasses.asdict`` would try: it stands for what it resolves, its
    ``identity`` (which secret, for whom), so versions keyed differently never share an engine."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _identity(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if callable(value):
        return getattr(value, "identity", f"{type(value).__qualname__}@{id(value)}")
    return value


def load_engine(spec: ModelSpec, kind: str | None = None) -> InferenceEngine:
    """The engine serving ``spec`` (loaded now if needed, cached by kind and ``served_identity``)."""
    chosen = kind or default_kind(spec)
    registry.entry(chosen)  # an unknown kind fails here, before it takes a cache slot
    key = (chosen, served_identity(spec))
    with _lock:
        slot = _slots.setdefault(key, _Slot(threading.Lock(), (chosen, spec.key)))
        _start_reaper()
    with slot.lock:
        if slot.engine is None:
            slot.engine = registry.create(chosen, spec)
        slot.last_used = time.monotonic()
        engine: InferenceEngine = slot.engine
        return engine


def loaded() -> list[tuple[str, str]]:
    """(kind, weights key) of every engine loaded now; the same weights served two ways appear twice."""
    with _lock:
        return [s.label for s in _slots.values() if s.engine is not None]


def set_idle_timeout(seconds: float) -> float:
    """How long an unused engine stays loaded; returns the previous value."""
    global _idle_timeout_s
    if seconds <= 0:
        raise InvalidInput("idle timeout must be positive", details={"field": "idle_timeout_s"})
    previous, _idle_timeout_s = _idle_timeout_s, seconds
    _wake.set()
    return previous


def release_idle(now: float | None = None) -> list[tuple[str, str]]:
    """Close engines idle longer than the timeout; returns which. A slot being loaded or used is skipped."""
    now = time.monotonic() if now is None else now
    released = []
    with _lock:
        items = list(_slots.items())
    for _, slot in items:
        if not slot.lock.acquire(blocking=False):
            continue
        try:
            if slot.engine is not None and now - slot.last_used > _idle_timeout_s:
                slot.engine.close()
                slot.engine = None
                released.append(slot.label)
        finally:
            slot.lock.release()
    return released


def release_all() -> None:
    """Close every loaded engine (shutdown, tests)."""
    with _lock:
        items = list(_slots.items())
        _slots.clear()
    for _, slot in items:
        with slot.lock:
            if slot.engine is not None:
                slot.engine.close()
                slot.engine = None


# Close engines before the interpreter tears modules down: llama.cpp's finaliser fails noisily
# when it runs after its own module is gone (STACK.md trap 4).
atexit.register(release_all)


def _start_reaper() -> None:
    global _reaper
    if _reaper is None or not _reaper.is_alive():
        _reaper = threading.Thread(target=_reap, name="llmloop-engine-reaper", daemon=True)
        _reaper.start()


def _reap() -> None:
    while True:
        _wake.wait(min(30.0, max(0.05, _idle_timeout_s / 4)))
        _wake.clear()
        release_idle()
