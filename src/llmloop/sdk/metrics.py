"""``ll.metrics``: compute any registered metric on plain lists, list and register metrics.

    import llmloop as ll
    r = ll.metrics.compute("rougeL", predictions=["a cat sat"], references=["the cat sat"])
    r.score, r.per_example, r["score"]
    ll.metrics.list()                      # names
    @ll.metrics.task_metric("mentions_paris")
    def mentions_paris(prediction: str) -> bool: ...

Metrics run in this process (they need no store), in local and remote mode alike.
"""

from __future__ import annotations

import builtins
import sys

from llmloop.services.evaluate.metrics import (
    Metric,
    MetricInfo,
    MetricInputs,
    MetricResult,
    TaskMetric,
    compute,
    get_metric,
    list_metrics,
    names,
    register_metric,
    task_metric,
)

__all__ = [
    "Metric",
    "MetricInfo",
    "MetricInputs",
    "MetricResult",
    "TaskMetric",
    "compute",
    "describe",
    "get",
    "list",
    "register",
    "task_metric",
]


def list() -> builtins.list[str]:
    """Names of every metric: built-in, installed plugins and ones registered in this process."""
    return names()


def describe() -> builtins.list[MetricInfo]:
    """Every metric with where it comes from, whether it needs references and its direction and scale."""
    return list_metrics()


get = get_metric
register = register_metric

metrics = sys.modules[__name__]
