"""``client.traces``: read traces (time, model, user, status, latency) with their spans and feedback.

Writing spans is ``ll.span`` / ``@ll.trace`` and the gateway (and OTLP ingest at ``/v1/traces``);
this sub-API reads what they stored, in-process or over ``/api/v1/traces``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from llmloop.client.routes import Route
from llmloop.services.observe.schemas import TracePage, TraceSearch
from llmloop.services.serve.schemas import TraceDetail

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context

ROUTES = [
    Route("traces.list", "GET", "/traces", "traces:read", TracePage),
    Route("traces.get", "GET", "/traces/{trace_id}", "traces:read", TraceDetail),
]


class Traces(Protocol):
    def list_traces(self, query: TraceSearch) -> TracePage: ...
    def get_trace(self, trace_id: str, spans: bool = True) -> TraceDetail: ...


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
