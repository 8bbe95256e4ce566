"""Adapters for the pages whose services are being built elsewhere: monitors/alerts and pipelines.

Each function is the one place a page asks for its data; until the service exists it answers
an empty list, which the page shows as an empty state that says so. Point them at
``view.client.monitors`` / ``view.client.pipelines`` when those sub-APIs land.
"""

from __future__ import annotations

from typing import Any

from llmloop.server.ui.render import View


def monitor_summary(view: View) -> list[dict[str, Any]]:
    """Monitors of ``view.project`` with their open alerts (none until the monitor service exists)."""
    return []


def pipeline_runs(view: View) -> list[dict[str, Any]]:
    """The last pipeline runs of ``view.project`` (none until the pipeline service exists)."""
    return []
