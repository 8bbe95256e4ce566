"""``/pipelines``: the project's pipeline runs; ``/pipelines/{pipeline_run_id}``: one run's step graph, coloured by
state, and each step's cache decision (and why), time and outputs, as ``llmloop pipeline status`` shows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from markupsafe import Markup

from llmloop.server.ui.render import View, page
from llmloop.services.pipelines.graph import to_svg

router = APIRouter()
RUNS = 50  # newest first; older runs stay reachable by id


def recent_runs(view: View, limit: int = RUNS) -> list[Any]:
    """The project's newest pipeline runs (the home page counts them too)."""
    return view.client.pipelines.list_runs(view.project, limit=limit).items


@page(router, "/pipelines", "pipelines.html", "pipelines:read")
def pipelines(view: View) -> dict[str, Any]:
    return {"pipelines": recent_runs(view)}


def _graph(data: dict[str, Any]) -> dict[str, Any]:
    states = {s.name: s.state for s in data["run"].steps}
    return {"graph_svg": Markup(to_svg(data["definition"], states, inline=True))}  # names are escaped


@page(router, "/pipelines/{pipeline_run_id}", "pipeline.html", "pipelines:read", extras=_graph)
def pipeline(view: View, pipeline_run_id: str) -> dict[str, Any]:
    c = view.client.pipelines
    run = c.get_run(pipeline_run_id)  # another project's run is NotFound, like one that never was
    return {"run": run, "definition": c.definition(pipeline_run_id)}
