"""``/deployments``: targets and their traffic split, shadows and fallbacks, revisions, recent traffic."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from llmloop.server.ui.charts import Bar, bars
from llmloop.server.ui.render import View, action, fragment, page
from llmloop.services.observe.schemas import TraceSearch
from llmloop.services.serve.schemas import Deployment

router = APIRouter()
RECENT = 200  # traces read to draw the recent traffic per target


def split(deployment: Deployment) -> list[Bar]:
    """Each target's share of traffic in percent (a single-target policy sends it all to the first)."""
    targets = deployment.spec.targets
    if deployment.spec.policy == "single":
        return [Bar(t.model, 100.0 if i == 0 else 0.0) for i, t in enumerate(targets)]
    total = sum(t.weight for t in targets) or 1.0
    return [Bar(t.model, t.weight / total * 100) for t in targets]


@page(router, "/deployments", "deployments.html", "deployments:read")
def deployments(view: View) -> dict[str, Any]:
    return {"deployments": view.client.deployments.list_deployments(view.project).items}


def _charts(data: dict[str, Any]) -> dict[str, Any]:
    traffic = [Bar(k, v) for k, v in sorted(data["traffic"].items())]
    live = data["live"].targets
    return {
        "split_svg": bars(split(data["deployment"]), title="traffic split", unit=" %"),
        "traffic_svg": bars(traffic, title=f"requests per model (last {RECENT} traces)"),
        "latency_svg": bars(
            [Bar(t.target, t.p95_ms) for t in live if t.p95_ms is not None],
            title="p95 latency per target, this revision", unit=" ms",
        ),
        "ttft_svg": bars(
            [Bar(t.target, t.p95_ttft_ms) for t in live if t.p95_ttft_ms is not None],
            title="p95 time to first token per target (streamed)", unit=" ms",
        ),
        "tokens_svg": bars(
            [Bar(t.target, t.output_tokens / t.requests) for t in live if t.requests],
            title="output tokens per request, per target",
        ),
        "errors_svg": bars(
            [Bar(t.target, t.error_rate * 100) for t in live if t.error_rate is not None],
            title="error rate per target, this revision", unit=" %",
        ),
    }  # fmt: skip


@page(router, "/deployments/{name}", "deployment.html", "deployments:read", extras=_charts)
def deployment(view: View, name: str) -> dict[str, Any]:
    c = view.client
    current = c.deployments.get_deployment(name, view.project)
    recent = c.traces.list_traces(TraceSearch(project=view.project, limit=RECENT)).items
    targets = {t.model for t in current.spec.targets}
    mine = [t for t in recent if t.model in targets]
    errors = sum(1 for t in mine if t.status == "error")
    latencies = sorted(t.duration_ms for t in mine)
    return {
        "deployment": current,
        "revisions": c.deployments.list_revisions(name, view.project),
        "live": c.deployments.deployment_status(name, view.project, None),
        "traffic": dict(Counter(t.model for t in mine if t.model)),
        "error_rate": errors / len(mine) if mine else None,
        "p50_ms": latencies[len(latencies) // 2] if latencies else None,
        "canary": current.spec.policy == "weighted" and len(current.spec.targets) > 1,
        "can_rollback": view.can("deployments:write"),
    }


@action(router, "/deployments/{name}/rollback", "deployments:write")
def rollback(view: View, name: str, to_revision: Annotated[int, Form(ge=1)]) -> Response:
    """Serve an earlier revision's spec again, as a new revision (the history keeps every step)."""
    result = view.client.deployments.rollback_deployment(name, view.project, to_revision)
    return fragment(view, "_rollback_result.html", {"deployment": result, "to_revision": to_revision})
