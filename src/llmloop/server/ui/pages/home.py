"""``/``: the loop of one project at a glance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from llmloop.server.ui.pages.monitors import firing
from llmloop.server.ui.pages.pipelines import recent_runs
from llmloop.server.ui.render import View, page
from llmloop.services.observe.schemas import TraceSearch

router = APIRouter()
LIVE = 5  # deployments whose live figures the home page shows


@page(router, "/", "home.html", "projects:read")
def home(view: View) -> dict[str, Any]:
    """Champion versions, what each deployment's targets are doing live, the last evaluations,
    recent traffic and how much feedback came in."""
    c, project = view.client, view.project
    models = c.models.list_models(project)
    live = []
    if view.can("deployments:read"):
        for d in c.deployments.list_deployments(project).items[:LIVE]:
            live.append(c.deployments.deployment_status(d.name, project, None))
    traffic = c.traces.list_traces(TraceSearch(project=project, limit=20)).items
    return {
        "models": models,
        "live": live,
        "evaluations": c.evaluations.list_evaluations(project=project, limit=5).items,
        "traces": traffic,
        "errors": sum(1 for t in traffic if t.status == "error"),
        "feedback_count": len(c.feedback.list_feedback(project=project)),
        "alerts": firing(view) if view.can("monitors:read") else [],
        "pipelines": recent_runs(view, limit=5) if view.can("pipelines:read") else [],
    }
