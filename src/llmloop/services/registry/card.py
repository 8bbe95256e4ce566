"""The generated model card: what the store knows about a version, in one place.

The card is written from records only (the version, the run that produced it with its params and
final metrics, the dataset versions it was trained on, completed evaluations of this exact
version, the alias history), so it can be regenerated at any time and never claims more than
the store holds. Sections without records say so instead of disappearing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from llmloop.context import Context
from llmloop.errors import NotFound
from llmloop.services.registry import service
from llmloop.services.registry.lineage import entity_label
from llmloop.services.registry.schemas import ModelCard, ModelVersion
from llmloop.store import lineage as walks
from llmloop.store.tables.datasets import DatasetVersionRow
from llmloop.store.tables.evaluations import EvaluationRow
from llmloop.store.tables.models import ModelVersionRow
from llmloop.store.tables.tracking import LatestMetricRow, ParamRow, RunRow


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        text = f"{v:.4g}" if isinstance(v, float) else ("-" if v is None else str(v))
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def _details(v: ModelVersion) -> list[str]:
    rows: list[list[Any]] = [
        ["Base", f"{v.base.kind}: `{v.base.uri}`"],
        ["Built on", v.base.version],
        ["Base sha256", f"`{v.base.sha256}`" if v.base.sha256 else None],
        ["Architecture", v.architecture],
        ["Parameters", f"{v.parameters:,}" if v.parameters else None],
        ["Quantization", v.quantization],
        ["Context length", v.context_length],
        ["License", v.license],
        ["Default engine", v.default_engine],
        ["Created", f"{_when(v.created_at)} by {v.created_by or '-'}"],
    ]
    if v.adapter is not None:
        a = v.adapter
        rows += [
            ["Adapter", f"{a.peft_type} r={a.rank} alpha={a.alpha} on {', '.join(a.target_modules) or '-'}"],
            ["Adapter parameters", f"{a.parameters:,}" if a.parameters else None],
            ["Adapter sha256", f"`{a.sha256}`"],
        ]
    if v.upstream is not None:
        rows.append(["Upstream", f"{v.upstream.base_url} (model {v.upstream.model})"])
    return _table(["Field", "Value"], rows)


def _training(s: Session, v: ModelVersion) -> list[str]:
    if v.run_id is None:
        return ["No training run produced this version (it was registered directly)."]
    run = s.get(RunRow, v.run_id)
    if run is None:
        return [f"Produced by run `{v.run_id}`, which no longer exists."]
    out = [f"Produced by run **{run.name}** (`{run.id}`, {run.kind}, {run.status})."]
    params = s.execute(select(ParamRow.key, ParamRow.value).where(ParamRow.run_id == run.id)).all()
    if params:
        out += [
            "",
            "Training configuration:",
            "",
            *_table(["Parameter", "Value"], [[k, val] for k, val in sorted(params)]),
        ]
    metrics = s.execute(
        select(LatestMetricRow.key, LatestMetricRow.value).where(LatestMetricRow.run_id == run.id)
    ).all()
    if metrics:
        out += [
            "",
            "Final training metrics:",
            "",
            *_table(["Metric", "Value"], [[k, val] for k, val in sorted(metrics)]),
        ]
    return out


def _data(s: Session, v: ModelVersion) -> list[str]:
    """Dataset versions that fed this version or the run that produced it."""
    targets = [(service.ENTITY, v.id)] + ([("run", v.run_id)] if v.run_id else [])
    rows: list[list[Any]] = []
    for t, i in targets:
        for e in walks.edges_of(s, t, i):
            if e.dst_type == t and e.dst_id == i and e.src_type == "dataset_version":
                dv = s.get(DatasetVersionRow, e.src_id)
                label = entity_label(s, "dataset_version", e.src_id) or e.src_id
                row = [label, e.relation, dv.rows if dv else None, dv.kind if dv else None]
                if row not in rows:
                    rows.append(row)
    if not rows:
        return ["No dataset versions are recorded for this version."]
    return _table(["Dataset version", "Relation", "Rows", "Kind"], rows)


def _evaluations(s: Session, v: ModelVersion) -> list[str]:
    evals = s.scalars(
        select(EvaluationRow)
        .where(EvaluationRow.model_version == v.id, EvaluationRow.status == "completed")
        .order_by(EvaluationRow.created_at)
    ).all()
    if not evals:
        return ["No completed evaluations of this version are recorded."]
    rows: list[list[Any]] = []
    for ev in evals:
        for key, agg in sorted((ev.metrics or {}).items()):
            score = agg.get("score") if isinstance(agg, dict) else agg
            rows.append(
                [ev.suite, ev.dataset_ref, ev.n_examples, key, score, _when(ev.completed_at or ev.created_at)]
            )
    return _table(["Suite", "Data", "Examples", "Metric", "Score", "When"], rows)


def model_card(ctx: Context, *, ref: str, project: str | None = None) -> ModelCard:
    """A Markdown model card for one version, from the store's records."""
    v = service.get_model_version(ctx, ref=ref, project=project)
    history = service.alias_history(ctx, name=v.name, project=v.project)
    with ctx.db.session() as s:
        if s.get(ModelVersionRow, v.id) is None:
            raise NotFound(f"model version {v.ref} not found", details={"ref": ref})
        lines = [f"# {v.ref}", ""]
        if v.description:
            lines += [v.description, ""]
        lines += [f"Project: `{v.project}`. Aliases: {', '.join(v.aliases) or 'none'}.", ""]
        lines += ["## Model details", "", *_details(v), ""]
        lines += ["## Training", "", *_training(s, v), ""]
        lines += ["## Data", "", *_data(s, v), ""]
        lines += ["## Evaluation", "", *_evaluations(s, v), ""]
    moves = [[e.alias, e.from_version, e.to_version, e.reason, _when(e.created_at)] for e in history]
    lines += ["## Alias history", ""]
    lines += _table(["Alias", "From", "To", "Reason", "When"], moves) if moves else ["No alias moves yet."]
    lines += [
        "",
        "## Usage",
        "",
        "```python",
        "import llmloop as ll",
        f'll.chat(model="{v.ref}", messages=[{{"role": "user", "content": "Hello"}}])',
        "```",
        "",
        "_Generated by llmloop from the records in its store; regenerate with `llmloop models card`._",
        "",
    ]
    return ModelCard(ref=v.ref, markdown="\n".join(lines))
