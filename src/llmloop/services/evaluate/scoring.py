"""Score generated answers with a suite's metrics: per-example scores, statistics and aggregates with CIs.

Pure computation on plain values (no store), so the service, the benchmark and tests share it.
An example whose generation failed is scored as an empty answer: errors can only lower a score,
never raise it by dropping hard examples. Its error is reported separately as the error rate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmloop.errors import InvalidInput
from llmloop.services.evaluate.generation import Messages, Outcome
from llmloop.services.evaluate.metrics.base import Metric, MetricInputs
from llmloop.services.evaluate.metrics.registry import get_metric
from llmloop.services.evaluate.schemas import MetricAggregate
from llmloop.services.evaluate.seams import EvalRow
from llmloop.services.evaluate.stats import bootstrap_ci
from llmloop.services.evaluate.suite import BootstrapSettings, MetricSpec

RATIONALE_CHARS = 4000
"""A judge's rationale is kept to this many characters per example and metric: enough to read its
reasoning, bounded so a rambling judge cannot make an evaluation's rows megabytes each."""


@dataclass
class BuiltMetric:
    key: str
    spec: MetricSpec
    metric: Metric


@dataclass
class Scored:
    """Per-example scores, statistics and judge rationales by metric key, plus the aggregates."""

    scores: list[dict[str, float | None]]
    stats: list[dict[str, list[float]]]
    aggregates: dict[str, MetricAggregate] = field(default_factory=dict)
    rationales: list[dict[str, str]] = field(default_factory=list)


def build_metrics(
    specs: Sequence[MetricSpec], *, prepare: Callable[[MetricSpec], dict[str, Any]] | None = None
) -> list[BuiltMetric]:
    """Instantiate every metric now, so unknown names and bad options fail before generation.

    ``prepare`` turns a spec's options into constructor arguments; the service uses it to resolve
    options that are references (a judge model, a rubric prompt) through the seams.
    """
    built = []
    for i, spec in enumerate(specs):
        options = prepare(spec) if prepare is not None else dict(spec.options)
        try:
            metric = get_metric(spec.metric, **options)
        except TypeError as e:  # an option the metric's constructor does not take
            raise InvalidInput(
                f"metrics[{i}] ({spec.metric}): {e}".replace("__init__() ", ""),
                details={"key": f"metrics[{i}].options"},
            ) from e
        built.append(BuiltMetric(spec.name, spec, metric))
    return built


def check_references(metrics: Sequence[BuiltMetric], rows: Sequence[EvalRow]) -> None:
    """Reference-based metrics need a reference on every row; say which row lacks one."""
    needing = [m.key for m in metrics if m.metric.requires_references]
    if not needing:
        return
    missing = [r.id for r in rows if r.reference is None]
    if missing:
        raise InvalidInput(
            f"metric {needing[0]!r} needs references, but {len(missing)} of {len(rows)} examples have none "
            f"(first: {missing[0]}); set dataset.fields.reference or drop the metric",
            details={"metric": needing[0], "example": missing[0], "missing": len(missing)},
        )


def prompt_text(messages: Messages) -> str:
    """What a judge sees as the question: the last user turn."""
    for m in reversed(messages):
        if m["role"] == "user":
            return m["content"]
    return messages[-1]["content"] if messages else ""


def score_examples(
    metrics: Sequence[BuiltMetric],
    rows: Sequence[EvalRow],
    prompts: Sequence[Messages],
    outcomes: Sequence[Outcome],
    *,
    bootstrap: BootstrapSettings | None = None,
) -> Scored:
    bootstrap = bootstrap or BootstrapSettings()
    n = len(rows)
    has_refs = all(r.reference is not None for r in rows)
    inputs = MetricInputs(
        predictions=[o.text if o.text is not None else "" for o in outcomes],
        references=[list(r.reference or []) for r in rows] if has_refs else None,
        inputs=[prompt_text(p) for p in prompts],
        metadata=[r.metadata for r in rows],
        latencies_ms=[o.latency_ms for o in outcomes],
        prompt_tokens=[o.prompt_tokens for o in outcomes],
        completion_tokens=[o.completion_tokens for o in outcomes],
    )
    scores: list[dict[str, float | None]] = [{} for _ in range(n)]
    stats: list[dict[str, list[float]]] = [{} for _ in range(n)]
    rationales: list[dict[str, str]] = [{} for _ in range(n)]
    aggregates: dict[str, MetricAggregate] = {}
    for bm in metrics:
        result = bm.metric.compute(inputs)
        for i, v in enumerate(result.per_example):
            scores[i][bm.key] = v
        for i, text in enumerate(result.rationales or []):
            if text:
                rationales[i][bm.key] = text[:RATIONALE_CHARS]
        if result.stats is not None:
            for i, row in enumerate(result.stats):
                stats[i][bm.key] = [float(x) for x in row]
            matrix = np.asarray(result.stats, dtype=float)
        else:
            present = [v for v in result.per_example if v is not None]
            matrix = np.asarray(present, dtype=float)[:, None] if present else np.zeros((0, 1))
        low = high = None
        if result.score is not None and matrix.shape[0] > 0:
            ci = bootstrap_ci(
                matrix,
                bm.metric.corpus_from_stats,
                n_resamples=bootstrap.n_resamples,
                confidence=bootstrap.confidence,
                seed=bootstrap.seed,
            )
            low, high = ci.low, ci.high
        aggregates[bm.key] = MetricAggregate(
            key=bm.key,
            metric=bm.spec.metric,
            score=result.score,
            ci_low=low,
            ci_high=high,
            confidence=bootstrap.confidence,
            n=sum(v is not None for v in result.per_example),
            higher_is_better=bm.metric.higher_is_better,
            scale=bm.metric.scale,
            details=_jsonable(result.details),
        )
    return Scored(scores, stats, aggregates, rationales)


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    """Details go into JSON columns: keep numbers, strings, and short lists; drop the rest."""
    out: dict[str, Any] = {}
    for k, v in details.items():
        if isinstance(v, (str, int, float, bool)) or v is None:
            out[k] = v
        elif (
            isinstance(v, (list, tuple))
            and len(v) <= 16
            and all(isinstance(x, (int, float, str)) or x is None for x in v)
        ):
            out[k] = list(v)
    return out
