"""/api/v1/traces: query traces (time, model, user, status, latency), read one with spans and feedback,
and page through its span tree."""

from __future__ import annotations

from fastapi import APIRouter, Query

from llmloop.server.deps import CtxDep
from llmloop.server.routes import mount
from llmloop.services.observe import service, tree
from llmloop.services.observe.schemas import SpanTreePage, TracePage, TraceSearch
from llmloop.services.serve.feedback import get_trace_detail
from llmloop.services.serve.schemas import TraceDetail

router = APIRouter(prefix="/traces", tags=["traces"])


@mount(router, "traces.list")
def list_traces(
    ctx: CtxDep,
    project: str | None = None,
    since: float | None = None,
    until: float | None = None,
    model: str | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
    status: str | None = Query(None, pattern="^(ok|error)$"),
    min_duration_ms: float | None = Query(None, ge=0),
    limit: int = Query(100, ge=1, le=10000),
    page_token: str | None = None,
) -> TracePage:
    query = TraceSearch.model_validate(
        {
            "project": project,
            "since": since,
            "until": until,
            "model": model,
            "user_id": user_id,
            "session_id": session_id,
            "status": status,
            "min_duration_ms": min_duration_ms,
            "limit": limit,
            "page_token": page_token,
        }
    )
    return service.list_traces(ctx, query=query)


@mount(router, "traces.get")
def get_trace(
    ctx: CtxDep, trace_id: str, spans: bool = Query(True, description="false: only the root span")
) -> TraceDetail:
    return get_trace_detail(ctx, trace_id=trace_id, spans=spans)


@mount(router, "traces.spans")
def span_tree(
    ctx: CtxDep,
    trace_id: str,
    parent_span_id: str | None = Query(None, description="start from this span's children"),
    page_token: str | None = Query(None, description="a `more` entry's token: the rest of that part"),
    limit: int = Query(500, ge=1, le=tree.MAX_LIMIT),
) -> SpanTreePage:
    return tree.span_tree(
        ctx, trace_id=trace_id, parent_span_id=parent_span_id, page_token=page_token, limit=limit
    )
