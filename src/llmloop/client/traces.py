"""``client.traces``: read traces (time, model, user, status, latency) with their spans and feedback.

Writing spans is ``ll.span`` / ``@ll.trace`` and the gateway (and OTLP ingest at ``/v1/traces``);
this sub-API reads what they stored, in-process or over ``/api/v1/traces``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from llmloop.client.routes import Route
from llmloop.services.observe.schemas import SpanTreePage, TracePage, TraceSearch
from llmloop.services.serve.schemas import TraceDetail

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context

ROUTES = [
    Route("traces.list", "GET", "/traces", "traces:read", TracePage),
    Route("traces.get", "GET", "/traces/{trace_id}", "traces:read", TraceDetail),
    Route("traces.spans", "GET", "/traces/{trace_id}/spans", "traces:read", SpanTreePage),
]


class Traces(Protocol):
    def list_traces(self, query: TraceSearch) -> TracePage: ...
    def get_trace(self, trace_id: str, spans: bool = True) -> TraceDetail: ...
    def span_tree(
        self,
        trace_id: str,
        parent_span_id: str | None = None,
        page_token: str | None = None,
        limit: int = 500,
    ) -> SpanTreePage: ...


class LocalTraces:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def list_traces(self, query: TraceSearch) -> TracePage:
        from llmloop.services.observe import service

        return service.list_traces(self.ctx, query=query)

    def get_trace(self, trace_id: str, spans: bool = True) -> TraceDetail:
        """The trace with its spans (``spans=False``: only its root) and the feedback given on it."""
        from llmloop.services.serve.feedback import get_trace_detail

        return get_trace_detail(self.ctx, trace_id=trace_id, spans=spans)

    def span_tree(
        self,
        trace_id: str,
        parent_span_id: str | None = None,
        page_token: str | None = None,
        limit: int = 500,
    ) -> SpanTreePage:
        """A page of the trace's span tree, depth first; ``more`` names what follows and how to load it
        (``page_token``); ``parent_span_id`` starts from that span's children."""
        from llmloop.services.observe import tree

        return tree.span_tree(
            self.ctx, trace_id=trace_id, parent_span_id=parent_span_id, page_token=page_token, limit=limit
        )


class RemoteTraces:
    def __init__(self, http: Http) -> None:
        self.http = http

    def list_traces(self, query: TraceSearch) -> TracePage:
        page: TracePage = self.http.call("traces.list", query=query.model_dump(exclude_none=True))
        return page

    def get_trace(self, trace_id: str, spans: bool = True) -> TraceDetail:
        query = None if spans else {"spans": "false"}
        out: TraceDetail = self.http.call("traces.get", path={"trace_id": trace_id}, query=query)
        return out

    def span_tree(
        self,
        trace_id: str,
        parent_span_id: str | None = None,
        page_token: str | None = None,
        limit: int = 500,
    ) -> SpanTreePage:
        query = {"parent_span_id": parent_span_id, "page_token": page_token, "limit": limit}
        page: SpanTreePage = self.http.call(
            "traces.spans",
            path={"trace_id": trace_id},
            query={k: v for k, v in query.items() if v is not None},
        )
        return page
