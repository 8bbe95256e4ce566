"""Feedback → training rows: corrections become ``chat`` rows (SFT); corrections and preferences
become ``preference`` rows (chosen = corrected or preferred answer, rejected = the traced one).

The prompt and the original answer come from the trace's root span (``gen_ai.input.messages``
and ``gen_ai.output.messages``, recorded by the gateway). ``register_export`` writes the rows as
JSONL and, when a dataset name is given, registers them as a new version of that dataset with
lineage: the step where served traffic becomes training data. The edges run

    model_version --served--> trace <--routed-- deployment_revision
    trace --feedback--> feedback --exported_to--> dataset_version

so ``llmloop models lineage`` walks from a model trained on the export back through the feedback
and traces to the exact version that answered them (the gateway pins it on the trace's root span,
``llmloop.model.version``) and on into that version's own lineage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select

from llmloop.context import Context
from llmloop.errors import InvalidInput, NotFound
from llmloop.services.observe import semconv
from llmloop.services.observe import service as traces
from llmloop.services.observe.schemas import Trace
from llmloop.services.registry.service import get_model_version
from llmloop.services.serve.feedback import list_feedback
from llmloop.services.serve.gateway import SHADOW  # its mark on a shadow target's span
from llmloop.services.serve.schemas import Feedback
from llmloop.store.lineage import Edge, add_edge
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.deployments import DeploymentRevisionRow, DeploymentRow

ExportKind = Literal["sft", "preference"]


@dataclass(frozen=True)
class ExportResult:
    kind: ExportKind
    path: str
    rows: int
    trace_ids: list[str]
    dataset_version: str | None = None  # NAME@VERSION when registered


def _json_attr(attrs: dict[str, Any], key: str) -> Any:
    value = attrs.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


PAIRWISE = "pairwise:"  # label prefix of a pairwise choice: pairwise:served, pairwise:shadow, pairwise:tie


def _answer(attrs: dict[str, Any]) -> str | None:
    output = _json_attr(attrs, semconv.GEN_AI_OUTPUT_MESSAGES)
    if not isinstance(output, list) or not output:
        return None
    answer = output[0].get("content") if isinstance(output[0], dict) else None
    return answer if isinstance(answer, str) else ""


@dataclass(frozen=True)
class Exchange:
    """A gateway trace's chat: the prompt, the served answer, and a shadow target's answer when one ran."""

    messages: list[dict[str, Any]]
    answer: str
    shadow: str | None = None


def exchange_of(trace: Trace) -> Exchange | None:
    """The chat a trace recorded (root span), with the first shadow answer: the pair a pairwise review
    chooses between; None when the trace has no chat exchange."""
    root = next((s for s in trace.spans if s.span_id == trace.root_span_id), None)
    if root is None:
        return None
    messages = _json_attr(root.attributes, semconv.GEN_AI_INPUT_MESSAGES)
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    answer = _answer(root.attributes)
    if not isinstance(messages, list) or answer is None:
        return None
    shadows = sorted(
        (s for s in trace.spans if s.attributes.get(SHADOW) is True and s.status_code != "error"),
        key=lambda s: (s.start_time, s.span_id),
    )
    shadow = next((a for a in (_answer(s.attributes) for s in shadows) if a is not None), None)
    return Exchange(messages, answer, shadow)


def _exchange(ctx: Context, trace_id: str) -> Exchange | None:
    try:
        trace = traces.get_trace(ctx, trace_id=trace_id)
    except NotFound:
        return None
    return exchange_of(trace)


def _better(fb: Feedback, kind: ExportKind) -> str | None:
    """The answer a piece of feedback offers instead of the traced one, for this kind of export."""
    return fb.correction if kind == "sft" else (fb.preferred or fb.correction)


def _approved(fb: Feedback, kind: ExportKind, min_score: float | None) -> bool:
    """An SFT export with ``approved_min_score`` also keeps the answers rated at least that well,
    as they were served: a model trained on corrections alone sees only its own failures."""
    return kind == "sft" and min_score is not None and fb.score is not None and fb.score >= min_score


def export_rows(
    ctx: Context,
    *,
    kind: ExportKind,
    project: str | None = None,
    approved_min_score: float | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    rows: list[dict[str, Any]] = []
    trace_ids: list[str] = []
    for fb in reversed(list_feedback(ctx, project=project)):
        better = _better(fb, kind)
        approved = better is None and _approved(fb, kind, approved_min_score)
        if better is None and not approved:
            continue
        exchange = _exchange(ctx, fb.trace_id)
        if exchange is None:
            continue
        messages, original = exchange.messages, exchange.answer
        if approved:
            if not original:
                continue
            better = original
        assert better is not None
        if kind == "preference" and better == original and fb.label == PAIRWISE + "served":
            # a pairwise choice of the served answer: the pair is (served, shadow), the other way round
            if exchange.shadow is None or exchange.shadow == original:
                continue
            better, original = original, exchange.shadow
        if kind == "sft":
            rows.append(
                {"messages": [*messages, {"role": "assistant", "content": better}], "trace_id": fb.trace_id}
            )
        else:
            if better == original:
                continue
            rows.append(
                {
                    "prompt": messages,
                    "chosen": [{"role": "assistant", "content": better}],
                    "rejected": [{"role": "assistant", "content": original}],
                    "trace_id": fb.trace_id,
                }
            )
        trace_ids.append(fb.trace_id)
    return rows, trace_ids


def register_export(
    ctx: Context,
    *,
    kind: ExportKind,
    rows: list[dict[str, Any]],
    trace_ids: list[str],
    out: Path,
    dataset: str | None = None,
    project: str | None = None,
) -> ExportResult:
    """Write the rows as JSONL; with ``dataset``, also register them as a dataset version with lineage."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(out)
    traced = sorted(set(trace_ids))
    ref = None
    if dataset is not None:
        ref = _register_dataset(ctx, kind=kind, path=out, name=dataset, project=project, trace_ids=traced)
    return ExportResult(kind=kind, path=str(out), rows=len(rows), trace_ids=traced, dataset_version=ref)


def _register_dataset(
    ctx: Context, *, kind: ExportKind, path: Path, name: str, project: str | None, trace_ids: list[str]
) -> str:
    from llmloop.services.data import service as datasets
    from llmloop.services.data.schemas import DatasetAdd

    if not trace_ids:
        raise InvalidInput(
            f"no {kind} rows to export: no trace in this project has feedback of that kind yet",
            details={"dataset": name},
        )
    spec = DatasetAdd(
        name=name,
        path=str(path),
        project=project or ctx.settings.default_project,
        kind="chat" if kind == "sft" else "preference",
        description=f"{kind} rows from human feedback on {len(trace_ids)} traces",
    )
    version = datasets.add_version(ctx, spec=spec).version
    edges = [e for trace_id in trace_ids for e in _trace_edges(ctx, kind, trace_id, version.id)]
    with ctx.db.session() as s:
        for edge in edges:
            add_edge(s, edge)
    return version.ref


def _trace_edges(ctx: Context, kind: ExportKind, trace_id: str, dataset_version: str) -> list[Edge]:
    """Who served a trace (version, deployment revision) and which of its feedback fed the dataset."""
    try:
        trace = traces.get_trace(ctx, trace_id=trace_id)
    except NotFound:  # erased since its rows were read: nothing left to link
        return []
    root = next((sp for sp in trace.spans if sp.span_id == trace.root_span_id), None)
    attrs = root.attributes if root is not None else {}
    edges = []
    served = attrs.get(semconv.LLMLOOP_MODEL_VERSION)
    if isinstance(served, str):
        try:
            version = get_model_version(ctx, ref=served, project=trace.project)
            edges.append(Edge("model_version", version.id, "served", "trace", trace_id))
        except NotFound:  # deleted since (privacy erase): the trace stays the walk's end
            pass
    revision = _revision_id(ctx, trace.project, attrs)
    if revision is not None:
        edges.append(Edge("deployment_revision", revision, "routed", "trace", trace_id))
    for fb in list_feedback(ctx, trace_id=trace_id):
        if _better(fb, kind) is not None:
            edges.append(Edge("trace", trace_id, "feedback", "feedback", fb.id))
            edges.append(Edge("feedback", fb.id, "exported_to", "dataset_version", dataset_version))
    return edges


def _revision_id(ctx: Context, project: str, attrs: dict[str, Any]) -> str | None:
    name, number = attrs.get(semconv.LLMLOOP_DEPLOYMENT), attrs.get(semconv.LLMLOOP_DEPLOYMENT_REVISION)
    if not isinstance(name, str) or type(number) is not int:
        return None
    with ctx.db.session() as s:
        return s.scalar(
            select(DeploymentRevisionRow.id)
            .join(DeploymentRow, DeploymentRow.id == DeploymentRevisionRow.deployment_id)
            .join(ProjectRow, ProjectRow.id == DeploymentRow.project_id)
            .where(
                ProjectRow.name == project,
                DeploymentRow.name == name,
                DeploymentRevisionRow.revision == number,
            )
        )


def export_feedback(
    ctx: Context,
    *,
    kind: ExportKind,
    out: Path,
    project: str | None = None,
    dataset: str | None = None,
    approved_min_score: float | None = None,
) -> ExportResult:
    """Feedback as rows in ``out`` (JSONL) and, with ``dataset``, as that dataset's next version."""
    rows, trace_ids = export_rows(ctx, kind=kind, project=project, approved_min_score=approved_min_score)
    return register_export(
        ctx, kind=kind, rows=rows, trace_ids=trace_ids, out=out, dataset=dataset, project=project
    )
