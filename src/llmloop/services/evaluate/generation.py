"""Batched generation for evaluations and judges, with per-example failure isolation.

A *generator* is anything callable as ``generate(batch_of_messages, **params) -> list``: the seam
adapts a registered model's engine to it, and tests pass a plain function. Each item it returns
is a string or a ``Completion`` (text plus token counts, its own latency, or an error).

A batch that raises is retried one example at a time, so one bad example costs one error record,
not the whole batch; an example that still raises is recorded with its error and no answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Message = dict[str, str]
Messages = list[Message]


@dataclass(frozen=True)
class Completion:
    """A generator's richer answer; every field but ``text`` is optional."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    error: str | None = None


class Generator(Protocol):
    def __call__(self, batch: list[Messages], /, **params: Any) -> Sequence[str | Completion]: ...


@dataclass(frozen=True)
class Outcome:
    """What happened to one example: its answer or its error, and what it cost."""

    text: str | None
    error: str | None
    latency_ms: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


ProgressFn = Callable[[int, int], None]
MAX_ERROR = 2000


def _describe(err: BaseException) -> str:
    message = getattr(err, "message", None) or str(err)
    return f"{type(err).__name__}: {message}"[:MAX_ERROR]


def _outcome(item: object, latency_ms: float) -> Outcome:
    if isinstance(item, Completion):
        if item.error is not None:
            return Outcome(None, item.error[:MAX_ERROR], item.latency_ms or latency_ms)
        if not isinstance(item.text, str):
            return Outcome(None, f"generator returned text of type {type(item.text).__name__}", latency_ms)
        return Outcome(
            item.text,
            None,
            item.latency_ms if item.latency_ms is not None else latency_ms,
            item.prompt_tokens,
            item.completion_tokens,
        )
    if isinstance(item, str):
        return Outcome(item, None, latency_ms)
    return Outcome(None, f"generator returned {type(item).__name__}, expected str or Completion", latency_ms)


def _call(generate: Generator, batch: list[Messages], params: dict[str, Any]) -> list[Outcome]:
    """One call; raises if the call raises or answers with the wrong number of items."""
    start = time.perf_counter()
    answers = generate(batch, **params)
    latency_ms = (time.perf_counter() - start) * 1000.0
    answers = list(answers)
    if len(answers) != len(batch):
        raise RuntimeError(f"generator returned {len(answers)} answers for {len(batch)} prompts")
    return [_outcome(a, latency_ms) for a in answers]


def generate_all(
    generate: Generator,
    prompts: Sequence[Messages],
    *,
    params: dict[str, Any] | None = None,
    batch_size: int = 8,
    progress: ProgressFn | None = None,
) -> list[Outcome]:
    """Answer every prompt in batches; never raises for a failing example (KeyboardInterrupt still stops)."""
    params = params or {}
    out: list[Outcome] = []
    total = len(prompts)
    if progress is not None:  # before the first batch, which may take minutes on a CPU
        progress(0, total)
    for start in range(0, total, max(1, batch_size)):
        batch = list(prompts[start : start + batch_size])
        try:
            out.extend(_call(generate, batch, params))
        except Exception:
            for one in batch:
                t0 = time.perf_counter()
                try:
                    out.extend(_call(generate, [one], params))
                except Exception as e:
                    out.append(Outcome(None, _describe(e), (time.perf_counter() - t0) * 1000.0))
        if progress is not None:
            progress(len(out), total)
    return out
