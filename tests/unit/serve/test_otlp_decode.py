"""OTLP decoding straight to rows: every check the per-span pydantic model made is still made.

Attacks tried: trace and span ids of the wrong length or all zero, a parent id of the wrong
length, bytes that are not UTF-8 inside a protobuf string, non-hex JSON ids, names and status
messages over their bounds; each is a clear ``InvalidInput`` naming the span and the field.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from llmloop.errors import InvalidInput
from llmloop.services.observe.tracer import MAX_ATTRIBUTE_CHARS
from llmloop.services.serve.otlp import spans_from_json, spans_from_protobuf

TRACE, SPAN = bytes(range(1, 17)), bytes(range(1, 9))


def _body(**span: Any) -> bytes:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "svc"
    sp = rs.scope_spans.add().spans.add()
    sp.trace_id, sp.span_id, sp.name = TRACE, SPAN, "step"
    sp.start_time_unix_nano, sp.end_time_unix_nano = 1_000_000_000, 3_000_000_000
    for key, value in span.items():
        if key == "status_message":
            sp.status.message = value
        else:
            setattr(sp, key, value)
    out: bytes = req.SerializeToString()
    return out


def test_a_span_becomes_a_row_with_the_resource_attributes() -> None:
    (row,) = spans_from_protobuf(_body(kind=3), project="p")
    assert (row.trace_id, row.span_id, row.parent_span_id) == (TRACE.hex(), SPAN.hex(), None)
    assert (row.project, row.name, row.kind, row.start_time, row.end_time) == (
        "p",
        "step",
        "client",
        1.0,
        3.0,
    )
    assert row.attributes == {"service.name": "svc"} and row.events == []


@pytest.mark.parametrize(
    ("span", "field"),
    [
        ({"trace_id": TRACE[:15]}, "trace_id"),
        ({"trace_id": bytes(16)}, "trace_id"),
        ({"trace_id": b""}, "trace_id"),
        ({"span_id": SPAN + b"\x01"}, "span_id"),
        ({"span_id": bytes(8)}, "span_id"),
        ({"parent_span_id": b"\x01\x02"}, "parent_span_id"),
    ],
)
def test_bad_ids_are_refused_naming_the_field(span: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput, match=f"span 0 of the export: {field}") as refused:
        spans_from_protobuf(_body(**span), project="p")
    assert refused.value.details["field"] == field


def test_a_string_that_is_not_utf8_is_refused() -> None:
    body = _body(name="QQQQ").replace(b"QQQQ", b"\xff\xfeQQ")
    with pytest.raises(InvalidInput, match="invalid OTLP protobuf"):
        spans_from_protobuf(body, project="p")


def test_garbage_is_refused() -> None:
    with pytest.raises(InvalidInput, match="invalid OTLP protobuf"):
        spans_from_protobuf(b"\x0a\xff\xff\xff", project="p")


def test_names_and_messages_are_bounded() -> None:
    (row,) = spans_from_protobuf(
        _body(name="n" * 1000, status_message="m" * (MAX_ATTRIBUTE_CHARS + 9)), project="p"
    )
    assert len(row.name) == 256 and len(row.status_message) == MAX_ATTRIBUTE_CHARS
    (unnamed,) = spans_from_protobuf(_body(name=""), project="p")
    assert unnamed.name == "span"


def _doc(**span: Any) -> dict[str, Any]:
    base = {"traceId": "AB" * 16, "spanId": "cd" * 8, "name": "s", "startTimeUnixNano": "5"}
    return {"resourceSpans": [{"scopeSpans": [{"spans": [{**base, **span}]}]}]}


def test_json_ids_are_checked_like_protobuf_ones() -> None:
    (row,) = spans_from_json(_doc(), project="p")
    assert row.trace_id == "ab" * 16  # hex is case-insensitive; stored lower-case
    for bad, field in (({"traceId": "xyz"}, "trace_id"), ({"spanId": "0" * 16}, "span_id"),
                       ({"parentSpanId": "12"}, "parent_span_id")):  # fmt: skip
        with pytest.raises(InvalidInput, match=field):
            spans_from_json(_doc(**bad), project="p")
    with pytest.raises(InvalidInput, match="invalid OTLP JSON span"):
        spans_from_json(_doc(startTimeUnixNano="soon"), project="p")
