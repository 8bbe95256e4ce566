"""A model version's lineage: every edge walked back to the original data, as a list and as a tree.

The store holds edges (``store.lineage``); this module names their ends (a ref for versions, the
deployment for a trace) and arranges the walk into a tree rooted at the version, so that one
command shows a fine-tune of production feedback going back through its run, its dataset, the
feedback and traces it was exported from, the version that served those traces, and on into
that version's own run and data. A source reached twice (a base model under both versions) is
shown in full once and marked ``repeated`` after that, so the tree stays as small as the walk.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from llmloop.context import Context
from llmloop.services.registry import service
from llmloop.services.registry.schemas import Lineage, LineageEdge, LineageNode
from llmloop.store import lineage as walks
from llmloop.store.tables.datasets import DatasetRow, DatasetVersionRow
from llmloop.store.tables.deployments import DeploymentRevisionRow, DeploymentRow, FeedbackRow
from llmloop.store.tables.evaluations import EvaluationRow
from llmloop.store.tables.models import ModelRow, ModelVersionRow
from llmloop.store.tables.traces import TraceRow
from llmloop.store.tables.tracking import RunRow


def _feedback_label(fb: FeedbackRow) -> str:
    parts = [f"score {fb.score:g}"] if fb.score is not None else []
    parts += [f"label {fb.label}"] if fb.label else []
    parts += ["preferred answer"] if fb.preferred is not None else []
    parts += ["correction"] if fb.correction is not None else []
    return ", ".join(parts) or "comment"


def entity_label(s: Session, kind: str, ident: str) -> str | None:
    """A readable name for a lineage entity: a ref for versions, the name for runs, what a trace
    was routed by, what a piece of feedback says."""
    if kind == "model_version":
        row = s.get(ModelVersionRow, ident)
        model = s.get(ModelRow, row.model_id) if row is not None else None
        return f"{model.name}@{row.version}" if row is not None and model is not None else None
    if kind == "dataset_version":
        dv = s.get(DatasetVersionRow, ident)
        ds = s.get(DatasetRow, dv.dataset_id) if dv is not None else None
        return f"{ds.name}@{dv.version}" if dv is not None and ds is not None else None
    if kind == "run":
        run = s.get(RunRow, ident)
        return run.name if run is not None else None
    if kind == "evaluation":
        ev = s.get(EvaluationRow, ident)
        return f"{ev.suite} on {ev.model_ref}" if ev is not None else None
    if kind == "trace":
        trace = s.get(TraceRow, ident)
        return (trace.deployment or trace.model or trace.name) if trace is not None else None
    if kind == "feedback":
        fb = s.get(FeedbackRow, ident)
        return _feedback_label(fb) if fb is not None else None
    if kind == "deployment_revision":
        rev = s.get(DeploymentRevisionRow, ident)
        dep = s.get(DeploymentRow, rev.deployment_id) if rev is not None else None
        return f"{dep.name} rev {rev.revision}" if rev is not None and dep is not None else None
    return None


def _edges(s: Session, edges: list[walks.Edge], *, far_end: str) -> list[LineageEdge]:
    out = []
    for e in edges:
        kind, ident = (e.src_type, e.src_id) if far_end == "src" else (e.dst_type, e.dst_id)
        out.append(LineageEdge(**e.__dict__, label=entity_label(s, kind, ident)))
    return out


def downstream(s: Session, entity_type: str, entity_id: str, *, max_depth: int = 20) -> list[walks.Edge]:
    """Every edge reachable walking forwards (towards what used an entity), breadth first."""
    seen = {(entity_type, entity_id)}
    frontier = [(entity_type, entity_id)]
    out: list[walks.Edge] = []
    for _ in range(max_depth):
        nxt = []
        for t, i in frontier:
            for e in walks.edges_of(s, t, i):
                if (e.src_type, e.src_id) != (t, i):
                    continue
                out.append(e)
                if (e.dst_type, e.dst_id) not in seen:
                    seen.add((e.dst_type, e.dst_id))
                    nxt.append((e.dst_type, e.dst_id))
        if not nxt:
            break
        frontier = nxt
    return out


def lineage_tree(
    root_type: str, root_id: str, root_label: str | None, edges: list[LineageEdge]
) -> LineageNode:
    """The walked-back edges as a tree under the root; each entity's sources in the order recorded."""
    sources: dict[tuple[str, str], list[LineageEdge]] = {}
    for e in edges:
        sources.setdefault((e.dst_type, e.dst_id), []).append(e)
    expanded: set[tuple[str, str]] = set()

    def node(kind: str, ident: str, label: str | None, relation: str | None) -> LineageNode:
        if (kind, ident) in expanded:
            return LineageNode(type=kind, id=ident, label=label, relation=relation, repeated=True)
        expanded.add((kind, ident))
        children = [node(e.src_type, e.src_id, e.label, e.relation) for e in sources.get((kind, ident), [])]
        return LineageNode(type=kind, id=ident, label=label, relation=relation, children=children)

    return node(root_type, root_id, root_label, None)


def model_lineage(ctx: Context, *, ref: str, project: str | None = None) -> Lineage:
    """Where a version came from (runs, datasets, feedback, traces, the versions that served them,
    walked back), as edges and as a tree, and what used it since."""
    version = service.get_model_version(ctx, ref=ref, project=project)
    with ctx.db.session() as s:
        back = _edges(s, walks.upstream(s, service.ENTITY, version.id), far_end="src")
        forward = _edges(s, downstream(s, service.ENTITY, version.id), far_end="dst")
    return Lineage(
        ref=version.ref,
        upstream=back,
        downstream=forward,
        tree=lineage_tree(service.ENTITY, version.id, version.ref, back),
    )
