"""Reading traces from Python and the CLI, through ``get_client().traces`` (the store or a server).

Writing spans is ``ll.span`` / ``ll.trace`` (``llmloop.services.observe.tracer``); this module reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmloop.services.observe.schemas import TracePage, TraceSearch

if TYPE_CHECKING:
    from llmloop.services.serve.schemas import TraceDetail


def list_traces(query: TraceSearch) -> TracePage:
    from llmloop.client import get_client

    return get_client().traces.list_traces(query)


def get_trace(trace_id: str) -> TraceDetail:
    """The trace with its spans and the feedback given on it."""
    from llmloop.client import get_client

    return get_client().traces.get_trace(trace_id)
