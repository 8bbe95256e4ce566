"""A NUL in a span's text (an attacker's model name or user id) neither fails its batch nor is lost.

PostgreSQL text columns cannot hold NUL; before, one such span made the store refuse the whole batch
the writer had gathered, other callers' spans with it.
"""

from __future__ import annotations

import uuid
from typing import Any

from llmloop.services.observe import semconv
from llmloop.services.observe.schemas import SpanRecord
from llmloop.services.observe.service import get_trace, record_spans


def _span(name: str, **attributes: Any) -> SpanRecord:
    return SpanRecord(
        trace_id=uuid.uuid4().hex,
        span_id=uuid.uuid4().hex[:16],
        name=name,
        start_time=1.0,
        end_time=2.0,
        status_code="error",
        status_message="bad\x00message",
        attributes=attributes,
    )


def test_a_nul_in_span_text_is_stored_replaced_and_the_batch_survives(ctx: Any) -> None:
    hostile = _span(
        "gateway\x00chat", **{semconv.GEN_AI_REQUEST_MODEL: "file.txt\x00.png", semconv.USER_ID: "u\x00"}
    )
    plain = _span("gateway chat", **{semconv.GEN_AI_REQUEST_MODEL: "smol"})
    assert record_spans(ctx, spans=[hostile, plain]) == 2
    got = get_trace(ctx, trace_id=hostile.trace_id)
    assert got.name == "gateway\ufffdchat" and got.model == "file.txt\ufffd.png" and got.user_id == "u\ufffd"
    assert got.spans[0].attributes[semconv.GEN_AI_REQUEST_MODEL] == "file.txt\x00.png"  # JSON keeps it
    assert get_trace(ctx, trace_id=plain.trace_id).model == "smol"
