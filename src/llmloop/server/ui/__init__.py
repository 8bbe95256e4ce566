"""The web UI: server-rendered pages over the typed client, each with a JSON twin (``PAGE.json``).

``install_ui(app)`` mounts the pages at ``/`` and the packaged static files at ``/ui/static``.
Pages are Jinja2 templates with htmx for partial updates and uPlot for time series; SVG charts
are drawn in Python (``charts.py``). See ``render.py`` for how a page is declared and ``docs/ui.md``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from llmloop.server.ui import session
from llmloop.server.ui.assets import PREFIX, STATIC
from llmloop.server.ui.pages import (
    admin,
    annotate,
    datasets,
    deployments,
    evaluations,
    home,
    models,
    monitors,
    pipelines,
    prompts,
    runs,
    traces,
)

ROUTERS = [
    session.router,
    home.router,
    datasets.router,
    prompts.router,
    runs.router,
    models.router,
    evaluations.router,
    deployments.router,
    traces.router,
    annotate.router,
    monitors.router,
    pipelines.router,
    admin.router,
]


def install_ui(app: FastAPI) -> None:
    """Mount the pages (after ``/api/v1`` and the gateway, which they never shadow) and the assets."""
    for router in ROUTERS:
        app.include_router(router)
    app.mount(PREFIX, StaticFiles(directory=STATIC), name="ui-static")
