"""Rows of tracing: one row per trace (a summary kept up to date as spans arrive) and one per span.

Spans are OpenTelemetry-shaped: 32-hex trace ids, 16-hex span ids, a kind, a status and
attributes named by the OpenTelemetry semantic conventions (``gen_ai.request.model``,
``gen_ai.usage.input_tokens``, …). Times are epoch seconds like every other time in the store.
The trace row holds what lists and filters need (time, model, user, status, tokens) so
queries never scan spans.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from llmloop.store.tables.base import Base


class TraceRow(Base):
    __tablename__ = "traces"
    __table_args__ = (
        Index("ix_traces_project_start", "project_id", "start_time"),
        Index("ix_traces_project_deployment_start", "project_id", "deployment", "start_time"),
    )

    trace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    root_span_id: Mapped[str | None] = mapped_column(String(16))
    start_time: Mapped[float] = mapped_column(Float(precision=53))
    end_time: Mapped[float] = mapped_column(Float(precision=53))
    status: Mapped[str] = mapped_column(String(8), index=True)  # ok | error
    span_count: Mapped[int] = mapped_column(Integer)
    error_count: Mapped[int] = mapped_column(Integer)
    model: Mapped[str | None] = mapped_column(String(256), index=True)
    user_id: Mapped[str | None] = mapped_column(String(256), index=True)
    session_id: Mapped[str | None] = mapped_column(String(256), index=True)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    # a gateway trace's deployment and the target of its split it was routed to (its root span says)
    deployment: Mapped[str | None] = mapped_column(String(256))
    target: Mapped[str | None] = mapped_column(String(256))
    # how many guardrail checks recorded a decision (an event or a refusal): a monitor of guardrail
    # hits reads it from the window's index scan instead of joining the window's spans
    guardrail_hits: Mapped[int] = mapped_column(Integer, server_default="0")


class SpanRow(Base):
    __tablename__ = "spans"
    __table_args__ = (
        Index("ix_spans_trace_start", "trace_id", "start_time"),
        # a span's children in tree order: the span tree pages through it and counts children with it
        Index("ix_spans_trace_parent", "trace_id", "parent_span_id", "start_time", "span_id"),
    )

    # Deferred so a batch can insert its spans first and learn which ones are new (retries are no-ops)
    # before it updates the trace summaries, all in one transaction.
    trace_id: Mapped[str] = mapped_column(
        ForeignKey("traces.trace_id", ondelete="CASCADE", deferrable=True, initially="DEFERRED"),
        primary_key=True,
    )
    span_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    parent_span_id: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16))  # internal | server | client | producer | consumer
    start_time: Mapped[float] = mapped_column(Float(precision=53))
    end_time: Mapped[float] = mapped_column(Float(precision=53))
    status_code: Mapped[str] = mapped_column(String(8))  # unset | ok | error
    status_message: Mapped[str] = mapped_column(Text, default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
