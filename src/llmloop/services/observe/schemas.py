"""The tracing contract: what writers send (``SpanRecord``) and what readers get (``Trace``, ``Span``)."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

SpanKind = Literal["internal", "server", "client", "producer", "consumer"]
StatusCode = Literal["unset", "ok", "error"]
TRACE_ID = r"^[0-9a-f]{32}$"
SPAN_ID = r"^[0-9a-f]{16}$"

_CONFIG = ConfigDict(extra="forbid", from_attributes=True)


class SpanEvent(BaseModel):
    model_config = _CONFIG

    name: str = Field(min_length=1, max_length=256)
    time: float
    attributes: dict[str, Any] = Field(default_factory=dict)


class SpanRecord(BaseModel):
    """One finished span on its way to the store (from the tracer, or OTLP ingest later)."""

    model_config = _CONFIG

    trace_id: str = Field(pattern=TRACE_ID)
    span_id: str = Field(pattern=SPAN_ID)
    parent_span_id: str | None = Field(None, pattern=SPAN_ID)
    project: str = "default"
    name: str = Field(min_length=1, max_length=256)
    kind: SpanKind = "internal"
    start_time: float = Field(description="Epoch seconds.")
    end_time: float = Field(description="Epoch seconds.")
    status_code: StatusCode = "unset"
    status_message: str = ""
    attributes: dict[str, Any] = Field(default_factory=dict)
    events: list[SpanEvent] = Field(default_factory=list)


class SpanData(NamedTuple):
    """A span as the store writes it: what ``SpanRecord`` holds, without a model per span.

    OTLP ingest decodes protobuf straight into these (a pydantic model per span cost more than
    the store's own work); its decoder checks ids, names and sizes itself. ``events`` are plain
    ``{"name", "time", "attributes"}`` dicts, as stored.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    project: str
    name: str
    kind: str
    start_time: float
    end_time: float
    status_code: str
    status_message: str
    attributes: dict[str, Any]
    events: list[dict[str, Any]]


class Span(BaseModel):
    model_config = _CONFIG

    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    name: str
    kind: SpanKind
    start_time: float
    end_time: float
    status_code: StatusCode
    status_message: str = ""
    attributes: dict[str, Any] = Field(default_factory=dict)
    events: list[SpanEvent] = Field(default_factory=list)
    duration_ms: float


class Trace(BaseModel):
    model_config = _CONFIG

    trace_id: str
    project: str
    name: str
    root_span_id: str | None = None
    start_time: float
    end_time: float
    status: Literal["ok", "error"]
    span_count: int
    error_count: int
    model: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    deployment: str | None = Field(None, description="The deployment a gateway request was routed by.")
    target: str | None = Field(None, description="The target of the deployment's split it was routed to.")
    duration_ms: float
    spans: list[Span] = Field(default_factory=list, description="Filled by get, empty in lists.")


class TracePage(BaseModel):
    model_config = _CONFIG

    items: list[Trace]
    next_page_token: str | None = None


class TraceSearch(BaseModel):
    model_config = _CONFIG

    project: str | None = None
    since: float | None = Field(None, description="Traces starting at or after this epoch second.")
    until: float | None = Field(None, description="Traces starting before this epoch second.")
    model: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    status: Literal["ok", "error"] | None = None
    min_duration_ms: float | None = Field(None, ge=0)
    limit: int = Field(100, ge=1, le=10000)
    page_token: str | None = None


class SpanTreeRow(BaseModel):
    """One row of a trace's span tree: the span, how deep it sits, and how many children it has."""

    model_config = _CONFIG

    span: Span
    depth: int = Field(description="0 for a top-level span (no parent, or a parent that was never stored).")
    children: int = Field(description="How many stored spans name this one as their parent.")


class SpanTreeMore(BaseModel):
    """Spans of the tree a page stopped short of: the rest of one span's children (or of the
    top-level spans), each with its subtree. ``page_token`` asks for them."""

    model_config = _CONFIG

    parent_span_id: str | None = Field(description="Whose children these are; None: the top-level spans.")
    depth: int = Field(description="The depth these children sit at.")
    remaining: int = Field(description="How many of those children are not loaded yet.")
    page_token: str


class SpanTreePage(BaseModel):
    """A page of a trace's span tree, depth first (children by start time, then span id).

    ``rows`` are followed, in this order, by the parts of the tree the page did not reach:
    ``more[0]`` goes right after the last row, ``more[1]`` after all of ``more[0]``'s spans, and so on.
    Loading each in its place gives the whole tree once, without gaps or repeats.
    """

    model_config = _CONFIG

    trace_id: str
    rows: list[SpanTreeRow]
    more: list[SpanTreeMore] = Field(default_factory=list)
