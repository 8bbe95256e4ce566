"""Traces and feedback through both clients: same JSON, same errors."""

from __future__ import annotations

import json
import time

from tests.integration.client.conftest import Pair

from llmloop.errors import NotFound
from llmloop.services.observe import semconv
from llmloop.services.observe import service as observe
from llmloop.services.observe.schemas import SpanRecord, TraceSearch
from llmloop.services.observe.tracer import new_span_id, new_trace_id

COVERED = {"traces.list", "traces.get", "traces.spans"}


def record_exchange(pair: Pair, *, model: str, answer: str, status: str = "ok") -> str:
    """A gateway-shaped trace (root with the prompt and answer, one model span) in the shared store."""
    trace_id, now = new_trace_id(), time.time()
    root = new_span_id()
    messages = [{"role": "user", "content": "Where in May?"}]
    spans = [
        SpanRecord(
            trace_id=trace_id,
            span_id=root,
            project="parity",
            name="gateway chat",
            kind="server",
            start_time=now,
            end_time=now + 0.2,
            status_code=status,  # type: ignore[arg-type]
            attributes={
                semconv.GEN_AI_REQUEST_MODEL: model,
                semconv.GEN_AI_INPUT_MESSAGES: json.dumps(messages),
                semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps([{"role": "assistant", "content": answer}]),
            },
        ),
        SpanRecord(
            trace_id=trace_id,
            span_id=new_span_id(),
            parent_span_id=root,
            project="parity",
            name=f"chat {model}",
            kind="client",
            start_time=now + 0.01,
            end_time=now + 0.19,
            status_code="ok",
            attributes={semconv.GEN_AI_USAGE_INPUT_TOKENS: 7, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 3},
        ),
    ]
    observe.record_spans(pair.local.ctx, spans=spans)
    return trace_id


def test_traces_read_the_same(pair: Pair) -> None:
    ok = record_exchange(pair, model="tiny@1", answer="Lisbon")
    bad = record_exchange(pair, model="tiny@2", answer="", status="error")
    page = pair.same(lambda c: c.traces.list_traces(TraceSearch(project="parity", model="tiny@1")))
    assert ok in [t["trace_id"] for t in page["items"]] and bad not in [t["trace_id"] for t in page["items"]]
    errors = pair.same(lambda c: c.traces.list_traces(TraceSearch(project="parity", status="error")))
    assert [t["trace_id"] for t in errors["items"]] == [bad]
    trace = pair.same(lambda c: c.traces.get_trace(ok))
    assert trace["span_count"] == 2 and trace["input_tokens"] == 7 and trace["feedback"] == []
    assert [s["name"] for s in trace["spans"]] == ["gateway chat", "chat tiny@1"]
    summary = pair.same(lambda c: c.traces.get_trace(ok, spans=False))  # what the trace page reads
    assert [s["name"] for s in summary["spans"]] == ["gateway chat"] and summary["span_count"] == 2
    first = pair.same(lambda c: c.traces.span_tree(ok, limit=1))  # what the trace page's tree reads
    assert [(r["span"]["name"], r["depth"], r["children"]) for r in first["rows"]] == [("gateway chat", 0, 1)]
    token = first["more"][0]["page_token"]
    rest = pair.same(lambda c: c.traces.span_tree(ok, page_token=token))
    assert [(r["span"]["name"], r["depth"]) for r in rest["rows"]] == [("chat tiny@1", 1)]
    assert rest["more"] == []
    root = trace["spans"][0]["span_id"]
    assert pair.same(lambda c: c.traces.span_tree(ok, parent_span_id=root))["rows"] == rest["rows"]


def test_unknown_traces_raise_the_same_class(pair: Pair) -> None:
    assert pair.same_error(lambda c: c.traces.get_trace("0" * 31 + "1")) is NotFound
    assert pair.same_error(lambda c: c.traces.span_tree("0" * 31 + "1")) is NotFound
    assert pair.same_error(lambda c: c.traces.span_tree("0" * 31 + "1", page_token="x")) is NotFound
