"""Feedback → training rows: corrections become ``chat`` rows (SFT); corrections and preferences
become ``preference`` rows (chosen = corrected or preferred answer, rejected = the traced one).

The prompt and the original answer come from the trace's root span (``gen_ai.input.messages``
and ``gen_ai.output.messages``, recorded by the gateway). ``register_export`` writes the rows as
JSONL and, when a dataset name is given, registers them as a new version of that dataset with a
``derived_from`` lineage edge to every trace: the step where served traffic becomes training data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from llmloop.context import Context
from llmloop.errors import InvalidInput, NotFound
from llmloop.services.observe import semconv
from llmloop.services.observe import service as traces
from llmloop.services.serve.feedback import list_feedback

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


def _exchange(ctx: Context, trace_id: str) -> tuple[list[dict[str, Any]], str] | None:
    """(prompt messages, original answer) of a gateway trace; None when the trace has no chat exchange."""
    try:
        trace = traces.get_trace(ctx, trace_id=trace_id)
    except NotFound:
        return None
    root = next((s for s in trace.spans if s.span_id == trace.root_span_id), None)
    if root is None:
        return None
    messages = _json_attr(root.attributes, semconv.GEN_AI_INPUT_MESSAGES)
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    output = _json_attr(root.attributes, semconv.GEN_AI_OUTPUT_MESSAGES)
    if not isinstance(messages, list) or not isinstance(output, list) or not output:
        return None
    answer = output[0].get("content") if isinstance(output[0], dict) else None
    return messages, answer if isinstance(answer, str) else ""


def export_rows(
    ctx: Context, *, kind: ExportKind, project: str | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    rows: list[dict[str, Any]] = []
    trace_ids: list[str] = []
    for fb in reversed(list_feedback(ctx, project=project)):
        better = fb.correction if kind == "sft" else (fb.preferred or fb.correction)
        if better is None:
            continue
        exchange = _exchange(ctx, fb.trace_id)
        if exchange is None:
            continue
        messages, original = exchange
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
    from llmloop.store.lineage import Edge, add_edge

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
    with ctx.db.session() as s:
        for trace_id in trace_ids:
            add_edge(s, Edge("trace", trace_id, "derived_from", "dataset_version", version.id))
    return version.ref


def export_feedback(
    ctx: Context,
    *,
    kind: ExportKind,
    out: Path,
    project: str | None = None,
    dataset: str | None = None,
) -> ExportResult:
    """Feedback as rows in ``out`` (JSONL) and, with ``dataset``, as that dataset's next version."""
    rows, trace_ids = export_rows(ctx, kind=kind, project=project)
    return register_export(
        ctx, kind=kind, rows=rows, trace_ids=trace_ids, out=out, dataset=dataset, project=project
    )
