"""OTLP ingest: the real opentelemetry-exporter-otlp-proto-http exporter sends spans to a served app
(protobuf), an OTLP/JSON document is posted too, and both come back as llmloop traces."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import free_port
from tests.fakes.server_thread import ServerThread

from llmloop.services.observe.tracer import writer_for


@pytest.fixture
def served(gw: Any) -> Iterator[tuple[str, Any]]:
    """The same app as ``gw`` on a real 127.0.0.1 socket (uvicorn on a thread), and its Context."""
    with ServerThread(gw.app, free_port()) as srv:
        yield srv.url, gw.app.state.ctx


def _wait_trace(base: str, ctx: Any, trace_id: str, spans: int) -> dict[str, Any]:
    deadline = time.time() + 10
    while True:
        writer_for(ctx).flush()
        r = httpx.get(f"{base}/api/v1/traces/{trace_id}")
        if r.status_code == 200 and r.json()["span_count"] >= spans:
            out: dict[str, Any] = r.json()
            return out
        assert time.time() < deadline, r.text
        time.sleep(0.05)


def test_real_otlp_exporter_spans_become_traces(served: tuple[str, Any]) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    base, ctx = served
    provider = TracerProvider(resource=Resource.create({"service.name": "my-app"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("handle request") as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("chat gpt-x", kind=SpanKind.CLIENT) as llm:
            llm.set_attributes(
                {
                    "gen_ai.request.model": "gpt-x",
                    "gen_ai.usage.input_tokens": 12,
                    "gen_ai.usage.output_tokens": 7,
                    "gen_ai.request.stop_sequences": ["\n", "END"],
                    "user.id": "dora",
                }
            )
            llm.add_event("first_token", {"ms": 12.5})
        with tracer.start_as_current_span("tool") as tool:
            tool.set_status(Status(StatusCode.ERROR, "tool broke"))
    assert provider.force_flush(10_000)
    provider.shutdown()
    trace = _wait_trace(base, ctx, trace_id, 3)
    assert (trace["model"], trace["user_id"], trace["status"]) == ("gpt-x", "dora", "error")
    assert (trace["input_tokens"], trace["output_tokens"], trace["name"]) == (12, 7, "handle request")
    spans = {s["name"]: s for s in trace["spans"]}
    chat = spans["chat gpt-x"]
    assert chat["kind"] == "client"
    assert chat["attributes"]["service.name"] == "my-app"
    assert chat["attributes"]["gen_ai.request.stop_sequences"] == ["\n", "END"]
    assert chat["events"][0]["name"] == "first_token" and chat["events"][0]["attributes"]["ms"] == 12.5
    assert chat["parent_span_id"] == spans["handle request"]["span_id"]
    assert spans["tool"]["status_message"] == "tool broke"


def test_otlp_json_and_bad_bodies(served: tuple[str, Any]) -> None:
    base, ctx = served
    tid, sid = "ab" * 16, "cd" * 8
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": tid,
                                "spanId": sid,
                                "name": "llm",
                                "kind": "SPAN_KIND_CLIENT",
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000500000000",
                                "attributes": [
                                    {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
                                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "5"}},
                                ],
                                "status": {"code": 1},
                            }
                        ]
                    }
                ],
            }
        ]
    }
    r = httpx.post(f"{base}/v1/traces", json=doc)
    assert r.status_code == 200, r.text
    trace = _wait_trace(base, ctx, tid, 1)
    assert trace["duration_ms"] == pytest.approx(500.0) and trace["input_tokens"] == 5
    assert trace["spans"][0]["kind"] == "client"
    bad = httpx.post(
        f"{base}/v1/traces", content=b"\x0a\xff\xff", headers={"content-type": "application/x-protobuf"}
    )
    assert bad.status_code == 400
    wrong = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz", "spanId": sid}]}]}]}
    assert httpx.post(f"{base}/v1/traces", json=wrong).status_code == 400
    assert httpx.get(f"{base}/api/v1/health").status_code == 200


def test_root_span_names_the_trace_model_even_when_stored_after_its_children(gw: Any) -> None:
    from llmloop.services.observe.schemas import SpanRecord
    from llmloop.services.observe.service import get_trace, record_spans

    ctx = gw.app.state.ctx
    tid = "12" * 16
    child = SpanRecord(
        trace_id=tid,
        span_id="34" * 8,
        parent_span_id="56" * 8,
        name="chat upstream-model",
        start_time=2.0,
        end_time=3.0,
        attributes={"gen_ai.request.model": "upstream-model"},
    )
    root = SpanRecord(
        trace_id=tid,
        span_id="56" * 8,
        name="gateway chat",
        start_time=1.0,
        end_time=4.0,
        attributes={"gen_ai.request.model": "public-name"},
    )
    record_spans(ctx, spans=[child])
    record_spans(ctx, spans=[root])
    trace = get_trace(ctx, trace_id=tid)
    assert (trace.model, trace.name, trace.span_count) == ("public-name", "gateway chat", 2)


def _export(*spans: tuple[str, str]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {"traceId": tid, "spanId": sid, "name": "s", "startTimeUnixNano": "1000000000"}
                            for tid, sid in spans
                        ]
                    }
                ]
            }
        ]
    }


def test_an_answered_export_is_stored_and_a_refused_one_stores_nothing(served: tuple[str, Any]) -> None:
    """A whole export is checked before it is queued: a 400 (one bad span) or a 409 (one span on
    another project's trace) stores none of its spans, not even the good ones."""
    from llmloop.services.observe.schemas import SpanRecord
    from llmloop.services.observe.service import get_trace, record_spans

    base, ctx = served
    ok = httpx.post(f"{base}/v1/traces", json=_export(("a1" * 16, "b1" * 8), ("a1" * 16, "b2" * 8)))
    assert ok.status_code == 200, ok.text
    writer_for(ctx).flush()
    assert get_trace(ctx, trace_id="a1" * 16).span_count == 2

    bad = httpx.post(f"{base}/v1/traces", json=_export(("a2" * 16, "b1" * 8), ("a2" * 16, "zz" * 8)))
    assert bad.status_code == 400 and "span 1 of the export: span_id" in bad.json()["message"]

    other = "a3" * 16
    record_spans(ctx, spans=[SpanRecord(trace_id=other, span_id="c1" * 8, project="elsewhere", name="x",
                                        start_time=1.0, end_time=2.0)])  # fmt: skip
    mixed = httpx.post(f"{base}/v1/traces", json=_export(("a4" * 16, "b1" * 8), (other, "b2" * 8)))
    assert mixed.status_code == 409 and other in mixed.json()["message"]
    writer_for(ctx).flush()
    for refused in ("a2" * 16, "a4" * 16):
        assert httpx.get(f"{base}/api/v1/traces/{refused}").status_code == 404
    assert get_trace(ctx, trace_id=other).span_count == 1
