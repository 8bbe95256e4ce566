"""Metrics by name: built-ins, installed plugins (entry-point group ``llmloop.metrics``) and Python registrations.

Built-ins go through the same path as plugins: ``BUILTINS`` holds entry-point values
(``module:attribute``) that our own ``pyproject.toml`` also declares under ``llmloop.metrics``
(a test keeps the two equal). They are kept here too so a source checkout that is not installed
still finds them. A target is ``load()``ed only when its metric is chosen, so listing names costs
nothing; ``list_metrics`` loads each to describe it.

A target may be a ``Metric`` subclass (called with the metric's options) or a plain function
``fn(prediction, references, metadata) -> float | bool | None``, which becomes a task metric.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from types import TracebackType
from typing import Any

from pydantic import BaseModel, ConfigDict

from llmloop.errors import InvalidInput, Unavailable
from llmloop.services.evaluate.metrics.base import Metric

GROUP = "llmloop.metrics"

BUILTINS: dict[str, str] = {
    "bleu": "llmloop.services.evaluate.metrics.bleu:Bleu",
    "chrf": "llmloop.services.evaluate.metrics.bleu:Chrf",
    "rouge1": "llmloop.services.evaluate.metrics.rouge:Rouge1",
    "rouge2": "llmloop.services.evaluate.metrics.rouge:Rouge2",
    "rougeL": "llmloop.services.evaluate.metrics.rouge:RougeL",
    "exact_match": "llmloop.services.evaluate.metrics.matching:ExactMatch",
    "token_f1": "llmloop.services.evaluate.metrics.matching:TokenF1",
    "regex": "llmloop.services.evaluate.metrics.validity:Regex",
    "json_valid": "llmloop.services.evaluate.metrics.validity:JsonValid",
    "json_schema": "llmloop.services.evaluate.metrics.validity:JsonSchema",
    "semantic_similarity": "llmloop.services.evaluate.metrics.similarity:SemanticSimilarity",
    "perplexity": "llmloop.services.evaluate.metrics.perplexity:Perplexity",
    "latency": "llmloop.services.evaluate.metrics.usage:Latency",
    "output_tokens": "llmloop.services.evaluate.metrics.usage:OutputTokens",
    "token_cost": "llmloop.services.evaluate.metrics.usage:TokenCost",
    "llm_judge": "llmloop.services.evaluate.metrics.judged:LlmJudge",
    "instruction_following": "llmloop.services.evaluate.metrics.instructions:InstructionFollowing",
    "instruction_answer": "llmloop.services.evaluate.metrics.instructions:InstructionAnswer",
}

MetricFactory = Callable[..., Metric]

_python: dict[str, MetricFactory] = {}


class MetricInfo(BaseModel):
    """What ``ll.metrics.list()`` and ``llmloop eval metrics`` show about one metric."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    source: str
    requires_references: bool
    higher_is_better: bool
    scale: str
    description: str


@functools.lru_cache(maxsize=1)
def _installed() -> dict[str, EntryPoint]:
    """Entry points of installed distributions; a built-in name cannot be taken over by a plugin."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        if ep.name in BUILTINS or ep.name in found:
            continue
        found[ep.name] = ep
    return found


def _entry(name: str) -> EntryPoint | None:
    if name in BUILTINS:
        return EntryPoint(name=name, value=BUILTINS[name], group=GROUP)
    return _installed().get(name)


def names() -> list[str]:
    return sorted({*BUILTINS, *_installed(), *_python})


def _factory(name: str) -> tuple[MetricFactory, str]:
    if name in _python:
        return _python[name], "python"
    ep = _entry(name)
    if ep is None:
        close = difflib.get_close_matches(name, names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InvalidInput(
            f"unknown metric {name!r}{hint} (see `llmloop eval metrics`)",
            details={"metric": name, "did_you_mean": close[0] if close else None},
        )
    try:
        target = ep.load()
    except ImportError as e:
        raise Unavailable(
            f"metric {name!r} could not be loaded from {ep.value}: {e}. Is its extra installed? "
            "pip install 'llmloop[eval]'",
            details={"metric": name},
        ) from e
    source = "builtin" if name in BUILTINS else f"plugin:{ep.value}"
    return as_factory(name, target), source


def as_factory(name: str, target: Any) -> MetricFactory:
    """A Metric subclass is its own factory; a plain function becomes a task metric."""
    if inspect.isclass(target) and issubclass(target, Metric):
        return target
    if callable(target):
        from llmloop.services.evaluate.metrics.task import task_metric_class

        return task_metric_class(name, target)
    raise InvalidInput(
        f"metric {name!r} points at {target!r}, which is neither a Metric class nor a function"
    )


def get_metric(name: str, **options: Any) -> Metric:
    """The metric ``name`` built with ``options``; unknown names and bad options are InvalidInput."""
    factory, _ = _factory(name)
    metric = factory(**options)
    if not metric.name:
        metric.name = name  # type: ignore[misc]
    return metric


def metric_class_info(name: str) -> MetricInfo:
    factory, source = _factory(name)
    cls: Any = factory
    return MetricInfo(
        name=name,
        source=source,
        requires_references=bool(getattr(cls, "requires_references", False)),
        higher_is_better=bool(getattr(cls, "higher_is_better", True)),
        scale=str(getattr(cls, "scale", "fraction")),
        description=str(getattr(cls, "description", "") or (inspect.getdoc(cls) or "").split("\n")[0]),
    )


def list_metrics() -> list[MetricInfo]:
    return [metric_class_info(n) for n in names()]


class Registration:
    """Handle returned by ``register_metric``; as a context manager it unregisters on exit (for tests)."""

    def __init__(self, name: str, previous: MetricFactory | None) -> None:
        self.name = name
        self._previous = previous

    def unregister(self) -> None:
        if self._previous is None:
            _python.pop(self.name, None)
        else:
            _python[self.name] = self._previous

    def __enter__(self) -> Registration:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.unregister()


def register_metric(name: str, target: Any) -> Registration:
    """Register a Metric subclass or a task function under ``name`` in this process.

    Built-in names cannot be replaced (a typo would silently change every report).
    """
    if name in BUILTINS:
        raise InvalidInput(f"{name!r} is a built-in metric; register yours under another name")
    if not name or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise InvalidInput(f"invalid metric name {name!r}: use letters, digits, '_', '-', '.'")
    previous = _python.get(name)
    _python[name] = as_factory(name, target)
    return Registration(name, previous)
