"""Reading traces from Python and the CLI: the embedded store, or ``/api/v1/traces`` on a server.

Writing spans is ``ll.span`` / ``ll.trace`` (``llmloop.services.observe.tracer``); this module reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmloop.config import get_settings
from llmloop.services.observe.schemas import TracePage, TraceSearch

if TYPE_CHECKING:
    from llmloop.services.serve.schemas import TraceDetail


def list_traces(query: TraceSearch) -> TracePage:
    settings = get_settings()
    if settings.server_url:
        from llmloop.sdk.remote import RemoteClient

        params: dict[str, Any] = query.model_dump(exclude_none=True)
        return TracePage.model_validate(RemoteClient(settings)._call("GET", "/traces", params=params))
    from llmloop.context import local_context
    from llmloop.services.observe import service

    return service.list_traces(local_context(settings), query=query)


def get_trace(trace_id: str) -> TraceDetail:
    """The trace with its spans and the feedback given on it."""
    from llmloop.services.serve.schemas import TraceDetail

    settings = get_settings()
    if settings.server_url:
        from llmloop.sdk.remote import RemoteClient

        return TraceDetail.model_validate(RemoteClient(settings)._call("GET", f"/traces/{trace_id}"))
    from llmloop.context import local_context
    from llmloop.services.serve.feedback import get_trace_detail

    return get_trace_detail(local_context(settings), trace_id=trace_id)
