"""Window queries: the traces, root spans and feedback of one project between two times.

Every query starts from ``ix_traces_project_start`` (project, start time) and reaches each trace's
root span by the span primary key, so its cost follows the window's size, not the store's: a window
of a thousand traces in a store of a million spans reads a thousand index entries and a thousand
root spans. Feedback is read by its trace ids (indexed), so it is the feedback on the window's
requests, not whatever was given in the meantime.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import and_, select

from llmloop.errors import InvalidInput
from llmloop.services.observe import semconv
from llmloop.services.serve.gateway import DEPLOYMENT
from llmloop.store.tables.deployments import FeedbackRow
from llmloop.store.tables.monitoring import OnlineScoreRow
from llmloop.store.tables.traces import SpanRow, TraceRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_CHUNK = 500
NEGATIVE_LABELS = frozenset({"down", "thumbs_down", "thumbs-down", "bad", "negative", "wrong"})
_GUARDRAIL_KEYS = (semconv.LLMLOOP_GUARDRAIL_REFUSED, semconv.LLMLOOP_GUARDRAIL_BUFFERED)  # on the root
_LINKS = 20


@dataclass(frozen=True)
class Request:
    """One trace of the window with what the metrics need from its root span."""

    trace_id: str
    start: float
    status: str
    model: str | None
    latency_ms: float
    ttft_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    guardrail: bool
    input_text: str
    output_text: str


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def last_user_text(messages: Any) -> str:
    """The last user turn of chat messages (or the prompt itself when it is plain text)."""
    messages = _json(messages)
    if isinstance(messages, str):
        return messages
    if isinstance(messages, list):
        for m in reversed(messages):
            if isinstance(m, dict) and m.get("role") == "user":
                content = m.get("content")
                if isinstance(content, str):
                    return content
                if isinstance(content, list):  # content parts
                    return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _answer_text(messages: Any) -> str:
    messages = _json(messages)
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        content = messages[0].get("content")
        return content if isinstance(content, str) else ""
    return messages if isinstance(messages, str) else ""


def texts(attrs: dict[str, Any]) -> tuple[str, str]:
    """A root span's (input, output) text as monitors, drift tests and online metrics read them; privacy
    erasure reads them the same way to find what the monitoring tables derived from a trace."""
    return (
        last_user_text(attrs.get(semconv.GEN_AI_INPUT_MESSAGES) or attrs.get(semconv.LLMLOOP_INPUT)),
        _answer_text(attrs.get(semconv.GEN_AI_OUTPUT_MESSAGES) or attrs.get(semconv.LLMLOOP_OUTPUT)),
    )


def _float(attrs: dict[str, Any], key: str) -> float | None:
    value = attrs.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def requests(
    s: Session,
    *,
    project_id: str,
    start: float,
    end: float,
    model: str | None = None,
    deployment: str | None = None,
) -> list[Request]:
    """The window's traces, oldest first, each joined to its root span. A trace's guardrail hits
    come from its summary row (counted as its spans were stored), not from its guardrail spans: a
    join over a day's spans cost 240 ms at a million spans."""
    where = [TraceRow.project_id == project_id, TraceRow.start_time >= start, TraceRow.start_time < end]
    if model is not None:
        where.append(TraceRow.model == model)
    q = (
        select(
            TraceRow.trace_id,
            TraceRow.start_time,
            TraceRow.end_time,
            TraceRow.status,
            TraceRow.model,
            TraceRow.input_tokens,
            TraceRow.output_tokens,
            TraceRow.guardrail_hits,
            SpanRow.attributes,
        )
        .outerjoin(
            SpanRow, and_(SpanRow.trace_id == TraceRow.trace_id, SpanRow.span_id == TraceRow.root_span_id)
        )
        .where(*where)
        .order_by(TraceRow.start_time)
    )
    out = []
    for trace_id, t0, t1, status, trace_model, tokens_in, tokens_out, hits, attrs in s.execute(q):
        attrs = attrs or {}
        if deployment is not None and attrs.get(DEPLOYMENT) != deployment:
            continue
        latency = _float(attrs, semconv.LLMLOOP_LATENCY_MS)
        input_text, output_text = texts(attrs)
        out.append(
            Request(
                trace_id=trace_id,
                start=t0,
                status=status,
                model=trace_model,
                latency_ms=latency if latency is not None else (t1 - t0) * 1000.0,
                ttft_ms=_float(attrs, semconv.LLMLOOP_TTFT_MS),
                input_tokens=tokens_in,
                output_tokens=tokens_out,
                cost_usd=_float(attrs, semconv.LLMLOOP_COST_USD),
                guardrail=hits > 0 or any(attrs.get(k) for k in _GUARDRAIL_KEYS),
                input_text=input_text,
                output_text=output_text,
            )
        )
    return out


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


@dataclass(frozen=True)
class FeedbackItem:
    trace_id: str
    score: float | None
    negative: bool


def feedback(s: Session, trace_ids: list[str]) -> list[FeedbackItem]:
    out = []
    for chunk in _chunks(trace_ids):
        q = select(FeedbackRow.trace_id, FeedbackRow.score, FeedbackRow.label).where(
            FeedbackRow.trace_id.in_(chunk)
        )
        for trace_id, score, label in s.execute(q):
            negative = (score is not None and score <= 0) or (label or "").lower() in NEGATIVE_LABELS
            out.append(FeedbackItem(trace_id, score, negative))
    return out


@dataclass(frozen=True)
class Measured:
    """A metric's value over the window and the traces that drove it (the slowest, the failed, …)."""

    value: float | None
    trace_ids: list[str]
    count: int


def _percentile(reqs: list[Request], q: float, key: str) -> Measured:
    pairs = [(getattr(r, key), r.trace_id) for r in reqs if getattr(r, key) is not None]
    if not pairs:
        return Measured(None, [], 0)
    values = np.array([v for v, _ in pairs], dtype=np.float64)
    value = float(np.percentile(values, q))
    worst = sorted((p for p in pairs if p[0] >= value), key=lambda p: -p[0])[:_LINKS]
    return Measured(value, [t for _, t in worst], len(pairs))


def measure(s: Session, metric: str, reqs: list[Request]) -> Measured:
    """``metric`` over the window's requests; ``value`` is None when the window holds nothing to measure."""
    if metric.startswith(("latency_p", "ttft_p")):
        kind, q = metric.split("_p")
        return _percentile(reqs, float(q), "latency_ms" if kind == "latency" else "ttft_ms")
    n = len(reqs)
    if metric == "request_count":
        return Measured(float(n), [], n)
    if metric == "error_rate":
        bad = [r.trace_id for r in reqs if r.status == "error"]
        return Measured(len(bad) / n if n else None, bad[-_LINKS:], n)
    if metric == "guardrail_hits":
        hit = [r.trace_id for r in reqs if r.guardrail]
        return Measured(float(len(hit)), hit[-_LINKS:], n)
    if metric in ("input_tokens", "output_tokens", "total_tokens", "cost_usd"):

        def amount(r: Request) -> float:
            if metric == "cost_usd":
                return r.cost_usd or 0.0
            if metric == "total_tokens":
                return float(r.input_tokens + r.output_tokens)
            return float(getattr(r, metric))

        top = sorted(reqs, key=amount, reverse=True)[:_LINKS]
        return Measured(sum(amount(r) for r in reqs), [r.trace_id for r in top], n)
    if metric in ("feedback_score", "thumbs_down_rate"):
        items = feedback(s, [r.trace_id for r in reqs])
        if metric == "feedback_score":
            scored = [f for f in items if f.score is not None]
            low = sorted(scored, key=lambda f: f.score or 0.0)[:_LINKS]
            value = sum(f.score or 0.0 for f in scored) / len(scored) if scored else None
            return Measured(value, [f.trace_id for f in low], len(scored))
        down = [f.trace_id for f in items if f.negative]
        return Measured(len(down) / len(items) if items else None, down[-_LINKS:], len(items))
    if metric.startswith("online:"):
        return _online(s, metric.removeprefix("online:"), [r.trace_id for r in reqs])
    raise InvalidInput(f"unknown metric {metric!r}", details={"field": "metric"})


def _online(s: Session, name: str, trace_ids: list[str]) -> Measured:
    """Mean online score ``name`` over the window's traces, the newest score of each trace counted
    once (a trace scored by two evaluator versions is one observation, the current one)."""
    latest: dict[str, tuple[int, float]] = {}
    for chunk in _chunks(trace_ids):
        q = select(OnlineScoreRow.trace_id, OnlineScoreRow.id, OnlineScoreRow.score).where(
            OnlineScoreRow.trace_id.in_(chunk),
            OnlineScoreRow.metric == name,
            OnlineScoreRow.score.is_not(None),
        )
        for trace_id, row_id, score in s.execute(q):
            if score is not None and (trace_id not in latest or row_id > latest[trace_id][0]):
                latest[trace_id] = (row_id, float(score))
    if not latest:
        return Measured(None, [], 0)
    mean = sum(v for _, v in latest.values()) / len(latest)
    low = sorted((t for t in latest if latest[t][1] < mean), key=lambda t: latest[t][1])[:_LINKS]
    return Measured(mean, low, len(latest))  # links: the traces that pull the mean down
