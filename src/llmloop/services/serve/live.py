"""A deployment's live figures per target: requests, error rate, p50/p95 latency, mean feedback score.

For a canary (a weighted split) the question is whether the new arm does as well as the old one
on the same traffic. Every gateway trace carries its deployment and the target it was routed to
(``traces.deployment`` / ``traces.target``, from the root span), so one indexed range scan
(``ix_traces_project_deployment_start``) finds a window's requests, the root span (by primary key)
gives each its gateway latency, and feedback joins on its indexed trace id. Latency percentiles
are computed here from the window's durations (no portable SQL percentile across SQLite and
PostgreSQL).
"""

from __future__ import annotations

import math
from collections import defaultdict

from sqlalchemy import func, select

from llmloop.context import Context
from llmloop.errors import InvalidInput
from llmloop.services.observe import semconv
from llmloop.services.serve.schemas import DeploymentStatus, TargetFigures
from llmloop.services.serve.service import get_deployment
from llmloop.store.projects import project_id
from llmloop.store.tables.deployments import FeedbackRow
from llmloop.store.tables.traces import SpanRow, TraceRow

LABEL_CHARS = 256  # what the traces table keeps of a target's label


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) by linear interpolation between closest ranks; None when empty."""
    if not sorted_values:
        return None
    pos = q * (len(sorted_values) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def deployment_status(
    ctx: Context, *, name: str, project: str | None = None, since: float | None = None
) -> DeploymentStatus:
    """Figures per target of ``name`` since ``since`` (default: when its latest revision was written)."""
    dep = get_deployment(ctx, name=name, project=project)
    ctx.require("traces:read", dep.project)
    ctx.require("feedback:read", dep.project)
    start = dep.created_at if since is None else since
    if not math.isfinite(start):
        raise InvalidInput("since must be a finite time in epoch seconds", details={"field": "since"})
    durations: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    tokens: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    ttft: dict[str, list[float]] = defaultdict(list)  # streamed requests only
    with ctx.db.session() as s:
        pid = project_id(s, dep.project)
        window = (TraceRow.project_id == pid, TraceRow.deployment == dep.name, TraceRow.start_time >= start)
        rows = s.execute(
            select(
                TraceRow.target,
                TraceRow.status,
                SpanRow.end_time - SpanRow.start_time,
                TraceRow.input_tokens,
                TraceRow.output_tokens,
                SpanRow.attributes,
            )
            .join(
                SpanRow, (SpanRow.trace_id == TraceRow.trace_id) & (SpanRow.span_id == TraceRow.root_span_id)
            )
            .where(*window)
        ).all()
        scores = s.execute(
            select(TraceRow.target, func.count(FeedbackRow.score), func.avg(FeedbackRow.score))
            .join(FeedbackRow, FeedbackRow.trace_id == TraceRow.trace_id)
            .where(*window, FeedbackRow.score.is_not(None))
            .group_by(TraceRow.target)
        ).all()
    for target, status, seconds, tokens_in, tokens_out, attrs in rows:
        first = (attrs or {}).get(semconv.LLMLOOP_TTFT_MS)
        if isinstance(first, (int, float)):
            ttft[target or "-"].append(float(first))
        durations[target or "-"].append(float(seconds) * 1000.0)
        errors[target or "-"] += status == "error"
        tokens[target or "-"][0] += int(tokens_in or 0)
        tokens[target or "-"][1] += int(tokens_out or 0)
    scored = {(t or "-"): (int(n), float(mean) if mean is not None else None) for t, n, mean in scores}
    total = sum(t.weight for t in dep.spec.targets)
    labels = [t.label[:LABEL_CHARS] for t in dep.spec.targets]
    weights = {label: t.weight for label, t in zip(labels, dep.spec.targets, strict=True)}
    seen = labels + sorted(set(durations) - set(labels))
    figures = []
    for label in seen:
        ms = sorted(durations.get(label, []))
        n_scored, mean = scored.get(label, (0, None))
        weight = weights.get(label)
        figures.append(
            TargetFigures(
                target=label,
                weight=weight,
                share=weight / total if weight is not None and total > 0 else None,
                requests=len(ms),
                errors=errors.get(label, 0),
                error_rate=errors.get(label, 0) / len(ms) if ms else None,
                p50_ms=percentile(ms, 0.50),
                p95_ms=percentile(ms, 0.95),
                scored=n_scored,
                mean_score=mean,
                p95_ttft_ms=percentile(sorted(ttft.get(label, [])), 0.95),
                input_tokens=tokens[label][0] if label in tokens else 0,
                output_tokens=tokens[label][1] if label in tokens else 0,
            )
        )
    return DeploymentStatus(
        name=dep.name,
        project=dep.project,
        revision=dep.revision,
        policy=dep.spec.policy,
        since=start,
        targets=figures,
    )
