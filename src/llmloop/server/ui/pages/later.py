"""``/monitors`` and ``/pipelines``: empty states over the adapters of ``llmloop.server.ui.later``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from llmloop.server.ui.later import monitor_summary, pipeline_runs
from llmloop.server.ui.render import View, page

router = APIRouter()


@page(router, "/monitors", "monitors.html", "projects:read")
def monitors(view: View) -> dict[str, Any]:
    return {"monitors": monitor_summary(view)}


@page(router, "/pipelines", "pipelines.html", "projects:read")
def pipelines(view: View) -> dict[str, Any]:
    return {"pipelines": pipeline_runs(view)}
