"""``/monitors``: the project's monitors with their latest result, and the alerts firing now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from llmloop.server.ui.render import View, page

router = APIRouter()


def firing(view: View) -> list[Any]:
    """Alerts of the project that have not resolved (the home page counts them too)."""
    return view.client.monitoring.list_alerts(view.project, status="firing")


@page(router, "/monitors", "monitors.html", "monitors:read")
def monitors(view: View) -> dict[str, Any]:
    m = view.client.monitoring
    found = m.list_monitors(view.project)
    latest = {x.name: next(iter(m.results(view.project, x.name, limit=1)), None) for x in found}
    return {"monitors": found, "latest": latest, "alerts": firing(view)}
