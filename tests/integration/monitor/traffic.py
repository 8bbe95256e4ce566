"""Gateway-shaped traces written straight into a store, at chosen times, for monitor tests."""

from __future__ import annotations

import json
from typing import Any

from llmloop.services.observe import semconv
from llmloop.services.observe import service as observe
from llmloop.services.observe.schemas import SpanRecord
from llmloop.services.observe.tracer import new_span_id, new_trace_id


def record(
    ctx: Any,
    *,
    project: str,
    at: float,
    text: str = "Where in May?",
    answer: str = "Lisbon",
    status: str = "ok",
    latency_ms: float = 200.0,
    model: str = "tiny@1",
    user: str | None = None,
) -> str:
    """One request trace (root span with prompt, answer and latency) started at ``at``, of end user
    ``user`` when given; its id."""
    trace_id, root = new_trace_id(), new_span_id()
    span = SpanRecord(
        trace_id=trace_id,
        span_id=root,
        project=project,
        name="gateway chat",
        kind="server",
        start_time=at,
        end_time=at + latency_ms / 1000.0,
        status_code=status,  # type: ignore[arg-type]
        attributes={
            semconv.GEN_AI_REQUEST_MODEL: model,
            semconv.GEN_AI_INPUT_MESSAGES: json.dumps([{"role": "user", "content": text}]),
            semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps([{"role": "assistant", "content": answer}]),
            semconv.LLMLOOP_LATENCY_MS: latency_ms,
            **({semconv.USER_ID: user} if user else {}),
        },
    )
    observe.record_spans(ctx, spans=[span])
    return trace_id
