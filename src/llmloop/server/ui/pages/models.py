"""``/models``: versions, aliases and their history, the lineage graph, and promotion with its verdict first.

Promoting is two steps. ``check`` runs the gates that guard the alias (a protected alias's
stored suite, candidate against the baseline alias's holder) and shows the verdict without
moving anything; only a passing verdict offers the confirm button, which calls the same
``promote`` as every other door, so the server re-checks the gates (reusing the evaluation
just made) and refuses a failing candidate whatever the page showed. The controls are absent
for callers without ``models:promote``.
"""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form
from fastapi.responses import Response

from llmloop.server.ui.charts import Edge, lineage
from llmloop.server.ui.render import View, action, fragment, page
from llmloop.services.evaluate.schemas import GateVerdict
from llmloop.services.evaluate.suite import parse_suite
from llmloop.services.registry.schemas import Lineage

router = APIRouter()
LINKED = {"run": "/runs/", "evaluation": "/evaluations/", "trace": "/traces/"}


def lineage_svg(graph: Lineage, focus_id: str, project: str) -> Any:
    edges = [
        Edge(f"{e.src_type}:{e.src_id}", f"{e.dst_type}:{e.dst_id}", e.label or e.relation)
        for e in [*graph.upstream, *graph.downstream]
    ]
    nodes = {n for e in edges for n in (e.src, e.dst)}
    links = {
        n: f"{LINKED[kind]}{ident}?project={project}"
        for n in nodes
        for kind, _, ident in [n.partition(":")]
        if kind in LINKED
    }
    return lineage(edges, links, focus=f"model_version:{focus_id}")


@page(router, "/models", "models.html", "models:read")
def models(view: View) -> dict[str, Any]:
    return {"models": view.client.models.list_models(view.project)}


def _charts(data: dict[str, Any]) -> dict[str, Any]:
    shown = data["version"]
    if shown is None:
        return {"lineage_svg": ""}
    return {"lineage_svg": lineage_svg(data["lineage"], shown.id, shown.project)}


@page(router, "/models/{name}", "model.html", "models:read", extras=_charts)
def model(view: View, name: str, version: int | None = None) -> dict[str, Any]:
    c, project = view.client, view.project
    versions = c.models.list_versions(name, project)
    latest = max(versions, key=lambda v: v.version) if versions else None
    shown = next((v for v in versions if v.version == version), latest)
    return {
        "name": name,
        "versions": versions,
        "version": shown,
        "lineage": c.models.lineage(shown.ref, project) if shown else None,
        "card": c.models.card(shown.ref, project) if shown else None,
        "history": c.models.alias_history(name, project),
        "protections": c.models.protections(name, project),
        "can_promote": view.can("models:promote"),
    }


def verdict_for(view: View, name: str, version: int, alias: str) -> GateVerdict | None:
    """The verdict of the gates guarding ``name@alias`` for ``name@version``; None when none guard it."""
    c, project = view.client, view.project
    guard = next((p for p in c.models.protections(name, project) if p.alias == alias), None)
    if guard is None:
        return None
    suite = parse_suite(yaml.safe_load(guard.suite), source=f"protection of {name}@{alias}")
    candidate = c.models.get_version(f"{name}@{version}", project)
    baseline = None if guard.baseline_alias in candidate.aliases else f"{name}@{guard.baseline_alias}"
    return c.evaluations.gate_suite(
        suite, candidate=candidate.ref, baseline=baseline, project=project, allow_missing_baseline=True
    )


@action(router, "/models/{name}/check", "models:promote")
def check(
    view: View, name: str, version: Annotated[int, Form()], alias: Annotated[str, Form(max_length=64)]
) -> Response:
    verdict = verdict_for(view, name, version, alias)
    return fragment(
        view,
        "_promote_verdict.html",
        {"name": name, "version": version, "alias": alias, "verdict": verdict},
    )


@action(router, "/models/{name}/promote", "models:promote")
def promote(
    view: View,
    name: str,
    version: Annotated[int, Form()],
    alias: Annotated[str, Form(max_length=64)],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    result = view.client.models.promote(
        f"{name}@{version}", alias, view.project, reason=reason or "from the UI"
    )
    return fragment(view, "_promote_result.html", {"result": result})
