"""Metrics: one interface (``Metric``), one registry by name, one ``compute`` call.

    from llmloop.services.evaluate.metrics import compute
    result = compute("bleu", predictions=["the cat sat"], references=["the cat sat down"])
    result.score, result.per_example, result["score"]

Heavy libraries (sacrebleu, rouge-score, sentence-transformers, torch) load only when a metric
that needs them computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmloop.services.evaluate.metrics.base import Metric, MetricInputs, MetricResult, normalize_references
from llmloop.services.evaluate.metrics.registry import (
    GROUP,
    MetricInfo,
    get_metric,
    list_metrics,
    names,
    register_metric,
)
from llmloop.services.evaluate.metrics.task import TaskMetric, task_metric

__all__ = [
    "GROUP",
    "Metric",
    "MetricInfo",
    "MetricInputs",
    "MetricResult",
    "TaskMetric",
    "compute",
    "get_metric",
    "list_metrics",
    "names",
    "register_metric",
    "task_metric",
]


def compute(
    name: str,
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]] | None = None,
    *,
    inputs: Sequence[str] | None = None,
    metadata: Sequence[dict[str, Any]] | None = None,
    latencies_ms: Sequence[float | None] | None = None,
    prompt_tokens: Sequence[int | None] | None = None,
    completion_tokens: Sequence[int | None] | None = None,
    **options: Any,
) -> MetricResult:
    """Compute metric ``name`` on plain lists; ``options`` configure the metric (``pattern=…``)."""
    metric = get_metric(name, **options)
    data = MetricInputs(
        predictions=list(predictions),
        references=normalize_references(references),
        inputs=None if inputs is None else list(inputs),
        metadata=None if metadata is None else [dict(m) for m in metadata],
        latencies_ms=None if latencies_ms is None else list(latencies_ms),
        prompt_tokens=None if prompt_tokens is None else list(prompt_tokens),
        completion_tokens=None if completion_tokens is None else list(completion_tokens),
    )
    return metric.compute(data)
