"""Reading evaluations back: one by id (or prefix), pages of them, their examples, and column tables.

A ``running`` evaluation whose tracking run has ended (its process died) is reported, and stored,
as ``failed``: it can never complete, and gates and comparisons read completed evaluations only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update

from llmloop.context import Context
from llmloop.errors import InvalidInput, NotFound
from llmloop.services.evaluate.schemas import (
    Evaluation,
    EvaluationExample,
    EvaluationPage,
    ExamplePage,
    MetricAggregate,
)
from llmloop.services.evaluate.scoring import prompt_text
from llmloop.services.tracking import service as tracking
from llmloop.store import pages
from llmloop.store.projects import project_id, project_name
from llmloop.store.tables.base import now
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.evaluations import EvaluationExampleRow, EvaluationRow

MIN_ID_PREFIX = 6


def _to_evaluation(row: EvaluationRow, project: str) -> Evaluation:
    metrics = {k: MetricAggregate.model_validate(v) for k, v in (row.metrics or {}).items()}
    return Evaluation(
        id=row.id,
        project=project,
        suite=row.suite,
        suite_sha256=row.suite_sha256,
        model_ref=row.model_ref,
        model_version=row.model_version,
        dataset_ref=row.dataset_ref,
        prompt_ref=row.prompt_ref,
        run_id=row.run_id,
        status=row.status,
        error=row.error,
        n_examples=row.n_examples,
        n_errors=row.n_errors,
        error_rate=(row.n_errors / row.n_examples) if row.status == "completed" and row.n_examples else None,
        metrics=metrics,
        params=row.params or {},
        created_at=row.created_at,
        completed_at=row.completed_at,
        created_by=row.created_by,
    )


def _reap(ctx: Context, rows: Sequence[EvaluationRow]) -> None:
    """A running evaluation whose run has ended (its process died) is failed: it will never complete."""
    running = [r for r in rows if r.status == "running" and r.run_id]
    for r in running:
        assert r.run_id is not None
        run = tracking.get_run(ctx, run_id=r.run_id)  # marks a dead process's run killed
        if run.status != "running":
            with ctx.db.connect() as conn:
                conn.execute(
                    update(EvaluationRow)
                    .where(EvaluationRow.id == r.id, EvaluationRow.status == "running")
                    .values(
                        status="failed",
                        error="the evaluating process stopped before finishing",
                        completed_at=now(),
                    )
                )
            r.status, r.error = "failed", "the evaluating process stopped before finishing"


def _resolve_id(ctx: Context, evaluation_id: str) -> tuple[EvaluationRow, str]:
    if (
        not isinstance(evaluation_id, str)
        or len(evaluation_id) < MIN_ID_PREFIX
        or not evaluation_id.isalnum()
    ):
        raise InvalidInput(
            f"invalid evaluation id {str(evaluation_id)[:40]!r}: give the id or at least its first {MIN_ID_PREFIX} characters",
            details={"evaluation_id": str(evaluation_id)[:40]},
        )
    with ctx.db.session() as s:
        rows = list(
            s.scalars(
                select(EvaluationRow).where(EvaluationRow.id.startswith(evaluation_id.lower())).limit(2)
            )
        )
        if not rows:
            raise NotFound(
                f"evaluation {evaluation_id!r} not found", details={"evaluation_id": evaluation_id}
            )
        if len(rows) > 1:
            raise InvalidInput(f"evaluation id prefix {evaluation_id!r} is ambiguous; give more characters")
        row = rows[0]
        pname = project_name(s, row.project_id)
        s.expunge(row)
    if not ctx.actor.can("evaluations:read", pname):
        raise NotFound(f"evaluation {evaluation_id!r} not found", details={"evaluation_id": evaluation_id})
    return row, pname


def get_evaluation(ctx: Context, *, evaluation_id: str) -> Evaluation:
    """One evaluation by id (or unique id prefix)."""
    row, pname = _resolve_id(ctx, evaluation_id)
    _reap(ctx, [row])
    return _to_evaluation(row, pname)


def list_evaluations(
    ctx: Context,
    *,
    project: str | None = None,
    suite: str | None = None,
    model: str | None = None,
    status: str | None = None,
    limit: int = 50,
    page_token: str | None = None,
) -> EvaluationPage:
    """Evaluations newest first, in projects the actor can read; pages by keyset on (created, id)."""
    cursor = pages.decode(page_token, "evaluations", key_types=(float, str))
    order = [(EvaluationRow.created_at, True), (EvaluationRow.id, False)]
    with ctx.db.session() as s:
        names = dict(s.execute(select(ProjectRow.id, ProjectRow.name)).all())
        stmt = select(EvaluationRow)
        if cursor.after is not None:
            stmt = stmt.where(pages.seek(order, cursor.after))
        if project is not None:
            ctx.require("evaluations:read", project)
            stmt = stmt.where(EvaluationRow.project_id == project_id(s, project))
        else:
            readable = [pid for pid, name in names.items() if ctx.actor.can("evaluations:read", name)]
            stmt = stmt.where(EvaluationRow.project_id.in_(readable))
        if suite is not None:
            stmt = stmt.where(EvaluationRow.suite == suite)
        if model is not None:
            stmt = stmt.where(EvaluationRow.model_ref == model)
        if status is not None:
            stmt = stmt.where(EvaluationRow.status == status)
        stmt = stmt.order_by(EvaluationRow.created_at.desc(), EvaluationRow.id).limit(limit + 1)
        rows = list(s.scalars(stmt))
        for r in rows:
            s.expunge(r)
    more = len(rows) > limit
    rows = rows[:limit]
    _reap(ctx, rows)
    return EvaluationPage(
        items=[_to_evaluation(r, names[r.project_id]) for r in rows],
        next_page_token=pages.encode("evaluations", after=(rows[-1].created_at, rows[-1].id))
        if more
        else None,
    )


def find_evaluation(
    ctx: Context, *, project: str, suite_sha256: str, rows_sha256: str, model_version: str
) -> Evaluation | None:
    """The newest completed evaluation of this model version on exactly this suite and data, if any."""
    with ctx.db.session() as s:
        try:
            pid = project_id(s, project)
        except NotFound:
            return None
        row = s.scalars(
            select(EvaluationRow)
            .where(
                EvaluationRow.project_id == pid,
                EvaluationRow.suite_sha256 == suite_sha256,
                EvaluationRow.rows_sha256 == rows_sha256,
                EvaluationRow.model_version == model_version,
                EvaluationRow.status == "completed",
            )
            .order_by(EvaluationRow.created_at.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        s.expunge(row)
    return _to_evaluation(row, project)


def _example(r: EvaluationExampleRow) -> EvaluationExample:
    return EvaluationExample(
        index=r.idx,
        example_id=r.example_id,
        input=r.input,
        output=r.output,
        reference=r.reference,
        metadata=r.meta or {},
        scores=r.scores or {},
        rationales=r.rationales or {},
        latency_ms=r.latency_ms,
        prompt_tokens=r.prompt_tokens,
        completion_tokens=r.completion_tokens,
        error=r.error,
    )


def list_examples(
    ctx: Context,
    *,
    evaluation_id: str,
    limit: int = 50,
    page_token: str | None = None,
    errors_only: bool = False,
    worst_first: str | None = None,
) -> ExamplePage:
    """Examples of an evaluation in order; ``worst_first=KEY`` sorts by that metric, worst first."""
    row, _ = _resolve_id(ctx, evaluation_id)
    listing = "examples" if worst_first is None else "worst-first examples"
    with ctx.db.session() as s:
        base = select(EvaluationExampleRow).where(EvaluationExampleRow.evaluation_id == row.id)
        if errors_only:
            base = base.where(EvaluationExampleRow.error.is_not(None))
        total = int(s.scalar(select(func.count()).select_from(base.subquery())) or 0)
        if worst_first is None:  # in order: keyset on the example's index
            cursor = pages.decode(page_token, listing, key_types=(int,))
            after = [] if cursor.after is None else [EvaluationExampleRow.idx > cursor.after[0]]
            items = list(s.scalars(base.where(*after).order_by(EvaluationExampleRow.idx).limit(limit + 1)))
            more = len(items) > limit
            items = items[:limit]
            token = pages.encode(listing, after=(items[-1].idx,)) if more else None
        else:
            agg = (row.metrics or {}).get(worst_first)
            if agg is None:
                raise InvalidInput(
                    f"evaluation {row.id[:12]} has no metric {worst_first!r}", details={"metric": worst_first}
                )
            sign = 1.0 if agg.get("higher_is_better", True) else -1.0
            everything = list(s.scalars(base))

            def badness(e: EvaluationExampleRow) -> tuple[float, int]:
                v = (e.scores or {}).get(worst_first)
                return (math.inf if v is None else sign * v, e.idx)

            everything.sort(key=badness)  # sorted here, by a score: offset pages
            offset = pages.decode(page_token, listing).offset
            items = everything[offset : offset + limit]
            token = pages.encode(listing, offset=offset + limit) if offset + limit < total else None
        out = [_example(e) for e in items]
    return ExamplePage(items=out, total=total, next_page_token=token)


@dataclass
class ExampleTable:
    """An evaluation's examples in columns, for comparisons and gates."""

    evaluation: Evaluation
    example_ids: list[str]
    inputs: list[str]
    outputs: list[str | None]
    scores: dict[str, list[float | None]]
    stats: dict[str, list[list[float]] | None]
    latencies_ms: list[float | None]
    rationales: list[dict[str, str]]


def example_table(ctx: Context, *, evaluation_id: str) -> ExampleTable:
    """Every example of a completed evaluation, column by column."""
    evaluation = get_evaluation(ctx, evaluation_id=evaluation_id)
    if evaluation.status != "completed":
        raise InvalidInput(
            f"evaluation {evaluation.id[:12]} is {evaluation.status}; only completed evaluations can be compared or gated",
            details={"evaluation_id": evaluation.id, "status": evaluation.status},
        )
    with ctx.db.session() as s:
        rows = list(
            s.scalars(
                select(EvaluationExampleRow)
                .where(EvaluationExampleRow.evaluation_id == evaluation.id)
                .order_by(EvaluationExampleRow.idx)
            )
        )
        keys = list(evaluation.metrics)
        scores: dict[str, list[float | None]] = {k: [(r.scores or {}).get(k) for r in rows] for k in keys}
        stats: dict[str, list[list[float]] | None] = {}
        for k in keys:
            col = [(r.stats or {}).get(k) for r in rows]
            stats[k] = None if any(c is None for c in col) else [list(c) for c in col if c is not None]
        return ExampleTable(
            evaluation=evaluation,
            example_ids=[r.example_id for r in rows],
            inputs=[prompt_text(r.input) for r in rows],
            outputs=[r.output for r in rows],
            scores=scores,
            stats=stats,
            latencies_ms=[r.latency_ms for r in rows],
            rationales=[r.rationales or {} for r in rows],
        )
