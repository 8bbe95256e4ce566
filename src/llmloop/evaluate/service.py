"""Evaluation service: run a suite against a model, store every example, read results back.

``run_suite`` does everything that can fail on bad input first (metric names and options, rows,
references, prompts, the model), before it writes anything. It then creates the evaluation
``running`` with its tracking run, generates, scores, and in ONE transaction writes every example,
the aggregates and ``completed``. A crash leaves a ``running`` (later ``failed``) evaluation with no
examples; nothing half-done is ever marked complete. Model errors on some examples are recorded on
those examples and reported as the error rate; only when every example fails does the evaluation fail.
"""

from __future__ import annotations

import base64
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update

from llmloop.context import Context
from llmloop.errors import InvalidInput, LlmloopError, NotFound, Unavailable
from llmloop.evaluate.generation import Generator, Outcome, ProgressFn, generate_all
from llmloop.evaluate.schemas import (
    Evaluation,
    EvaluationExample,
    EvaluationPage,
    ExamplePage,
    MetricAggregate,
)
from llmloop.evaluate.scoring import BuiltMetric, build_metrics, check_references, prompt_text, score_examples
from llmloop.evaluate.seams import (
    EvalRow,
    load_generator,
    load_rows,
    prompt_renderer,
    render_prompts,
    rows_sha256,
)
from llmloop.evaluate.suite import MetricSpec, Suite
from llmloop.store.lineage import Edge, add_edge
from llmloop.store.projects import project_id, project_name
from llmloop.store.tables.base import now
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.evaluations import EvaluationExampleRow, EvaluationRow
from llmloop.tracking import service as tracking
from llmloop.tracking.environment import capture_environment
from llmloop.tracking.schemas import MetricPoint, RunBatch, RunCreate

MIN_ID_PREFIX = 6
_INSERT_CHUNK = 500


def _project(ctx: Context, suite: Suite, project: str | None) -> str:
    return project or suite.project or ctx.settings.default_project


def _prepare_options(ctx: Context, spec: MetricSpec, project: str) -> dict[str, Any]:
    """Resolve option values that are references: a judge model and a rubric prompt (llm_judge)."""
    options = dict(spec.options)
    if spec.metric == "llm_judge":
        judge = options.get("judge")
        if isinstance(judge, str):
            options["judge"] = load_generator(ctx, judge, project=project).generate
        rubric_ref = options.pop("rubric_prompt", None)
        if rubric_ref is not None:
            if "rubric" in options:
                raise InvalidInput(
                    "llm_judge: give rubric or rubric_prompt, not both", details={"metric": spec.name}
                )
            options["rubric"] = prompt_renderer(ctx, project=project, ref=str(rubric_ref))
    return options


@dataclass
class Prepared:
    """Everything a suite run needs, checked before anything is written."""

    project: str
    suite: Suite
    metrics: list[BuiltMetric]
    rows: list[EvalRow]
    prompts: list[list[dict[str, str]]]
    rows_sha256: str


def prepare_suite(
    ctx: Context, *, suite: Suite, project: str | None = None, limit: int | None = None
) -> Prepared:
    """Validate a suite against the store: metrics, rows, references and prompts."""
    proj = _project(ctx, suite, project)
    ctx.require("evaluations:write", proj)
    metrics = build_metrics(suite.metrics, prepare=lambda spec: _prepare_options(ctx, spec, proj))
    rows = load_rows(ctx, suite.dataset, project=proj, base=suite)
    if limit is not None:
        rows = rows[:limit]
    check_references(metrics, rows)
    prompts = render_prompts(ctx, suite, rows, project=proj)
    return Prepared(proj, suite, metrics, rows, prompts, rows_sha256(rows))


def run_suite(
    ctx: Context,
    *,
    suite: Suite,
    model: str | Generator,
    project: str | None = None,
    limit: int | None = None,
    progress: ProgressFn | None = None,
    reuse: bool = False,
) -> Evaluation:
    """Evaluate ``model`` on ``suite``; with ``reuse``, return a completed identical evaluation if one exists.

    Reuse needs a registry model version (a callable or ``py:`` model may have changed since).
    """
    prep = prepare_suite(ctx, suite=suite, project=project, limit=limit)
    loaded = load_generator(ctx, model, project=prep.project)
    if reuse and loaded.version_id is not None:
        found = find_evaluation(
            ctx,
            project=prep.project,
            suite_sha256=suite.sha256(),
            rows_sha256=prep.rows_sha256,
            model_version=loaded.version_id,
        )
        if found is not None:
            return found
    evaluation_id, run_id = _start(ctx, prep, model_ref=loaded.ref, model_version=loaded.version_id)
    try:
        outcomes = generate_all(
            loaded.generate,
            prep.prompts,
            params=suite.generation.as_params(),
            batch_size=suite.generation.batch_size,
            progress=progress,
        )
        failed = [o for o in outcomes if o.error is not None]
        if len(failed) == len(outcomes):
            raise Unavailable(
                f"model {loaded.ref} failed on every example; first error: {failed[0].error}",
                details={"evaluation_id": evaluation_id},
            )
        scored = score_examples(prep.metrics, prep.rows, prep.prompts, outcomes, bootstrap=suite.bootstrap)
        _complete(ctx, evaluation_id, prep, outcomes, scored.scores, scored.stats, scored.aggregates)
    except BaseException as e:
        _fail(ctx, evaluation_id, run_id, e)
        raise
    _finish_run(ctx, run_id, scored.aggregates, len(failed) / len(outcomes))
    return get_evaluation(ctx, evaluation_id=evaluation_id)


def _start(ctx: Context, prep: Prepared, *, model_ref: str, model_version: str | None) -> tuple[str, str]:
    suite = prep.suite
    dataset_ref = suite.dataset.ref or suite.dataset.path
    prompt_ref = suite.prompt.ref if suite.prompt is not None else None
    run = tracking.create_run(
        ctx,
        spec=RunCreate(
            project=prep.project,
            name=f"eval {suite.name} {model_ref}"[:256],
            kind="eval",
            params={
                "suite": suite.name,
                "suite_sha256": suite.sha256(),
                "model": model_ref,
                "dataset": dataset_ref,
                "prompt": prompt_ref or "-",
                "examples": len(prep.rows),
                **{f"generation.{k}": v for k, v in suite.generation.as_params().items()},
            },
            tags={"llmloop.evaluation": "true"},
            env=capture_environment(),
        ),
    )
    evaluation_id = uuid.uuid4().hex
    with ctx.db.session() as s:
        pid = project_id(s, prep.project, create=True)
        s.add(
            EvaluationRow(
                id=evaluation_id,
                project_id=pid,
                suite=suite.name,
                suite_sha256=suite.sha256(),
                suite_config=suite.model_dump(mode="json", exclude={"base_dir"}),
                rows_sha256=prep.rows_sha256,
                model_ref=model_ref[:512],
                model_version=model_version,
                dataset_ref=dataset_ref,
                prompt_ref=prompt_ref,
                run_id=run.id,
                status="running",
                n_examples=len(prep.rows),
                n_errors=0,
                metrics={},
                params={
                    "generation": suite.generation.model_dump(mode="json"),
                    "bootstrap": suite.bootstrap.model_dump(),
                },
                created_at=now(),
                created_by=ctx.actor.id,
            )
        )
        s.flush()
        edges = [Edge("run", run.id, "produced", "evaluation", evaluation_id)]
        if model_version:
            edges.append(Edge("model_version", model_version, "evaluated_in", "evaluation", evaluation_id))
        if suite.dataset.ref:
            edges.append(
                Edge("dataset_version", suite.dataset.ref, "evaluated_in", "evaluation", evaluation_id)
            )
        if prompt_ref:
            edges.append(Edge("prompt_version", prompt_ref, "evaluated_in", "evaluation", evaluation_id))
        for edge in edges:
            if len(edge.src_id) <= 64:
                add_edge(s, edge)
    return evaluation_id, run.id


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _complete(
    ctx: Context,
    evaluation_id: str,
    prep: Prepared,
    outcomes: Sequence[Outcome],
    scores: Sequence[dict[str, float | None]],
    stats: Sequence[dict[str, list[float]]],
    aggregates: dict[str, MetricAggregate],
) -> None:
    records = [
        {
            "evaluation_id": evaluation_id,
            "idx": i,
            "example_id": row.id[:256],
            "input": prompt,
            "output": o.text,
            "reference": row.reference,
            "meta": row.metadata,
            "scores": {k: _finite(v) for k, v in scores[i].items()},
            "stats": stats[i] or None,
            "latency_ms": _finite(o.latency_ms),
            "prompt_tokens": o.prompt_tokens,
            "completion_tokens": o.completion_tokens,
            "error": o.error,
        }
        for i, (row, prompt, o) in enumerate(zip(prep.rows, prep.prompts, outcomes, strict=True))
    ]
    metrics = {
        k: a.model_copy(
            update={"score": _finite(a.score), "ci_low": _finite(a.ci_low), "ci_high": _finite(a.ci_high)}
        ).model_dump(mode="json")
        for k, a in aggregates.items()
    }
    with ctx.db.connect() as conn:
        for start in range(0, len(records), _INSERT_CHUNK):
            conn.execute(insert(EvaluationExampleRow), records[start : start + _INSERT_CHUNK])
        conn.execute(
            update(EvaluationRow)
            .where(EvaluationRow.id == evaluation_id, EvaluationRow.status == "running")
            .values(
                status="completed",
                metrics=metrics,
                n_errors=sum(o.error is not None for o in outcomes),
                completed_at=now(),
            )
        )


def _fail(ctx: Context, evaluation_id: str, run_id: str, err: BaseException) -> None:
    """Record why an evaluation stopped; never hides the original error."""
    if isinstance(err, LlmloopError):
        message = err.message
    elif isinstance(err, KeyboardInterrupt):
        message = "interrupted"
    else:
        message = f"{type(err).__name__}: {err}"
    try:
        with ctx.db.connect() as conn:
            conn.execute(
                update(EvaluationRow)
                .where(EvaluationRow.id == evaluation_id, EvaluationRow.status == "running")
                .values(status="failed", error=message[:4000], completed_at=now())
            )
        tracking.end_run(
            ctx, run_id=run_id, status="killed" if isinstance(err, KeyboardInterrupt) else "failed"
        )
    except LlmloopError:
        pass  # the store itself is failing; the original error matters more


def _finish_run(ctx: Context, run_id: str, aggregates: dict[str, MetricAggregate], error_rate: float) -> None:
    t = now()
    points = [MetricPoint(key="error_rate", value=error_rate, timestamp=t)]
    for key, agg in aggregates.items():
        if agg.score is not None and math.isfinite(agg.score):
            points.append(MetricPoint(key=key, value=agg.score, timestamp=t))
    tracking.log_batch(ctx, run_id=run_id, batch=RunBatch(metrics=points, end_status="finished"))


# --- reading --------------------------------------------------------------------------------------


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


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return max(0, int(base64.urlsafe_b64decode(token.encode()).decode()))
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInput("invalid page_token", details={"field": "page_token"}) from e


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
    """Evaluations newest first, in projects the actor can read."""
    offset = _offset(page_token)
    with ctx.db.session() as s:
        names = dict(s.execute(select(ProjectRow.id, ProjectRow.name)).all())
        stmt = select(EvaluationRow)
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
        stmt = (
            stmt.order_by(EvaluationRow.created_at.desc(), EvaluationRow.id).offset(offset).limit(limit + 1)
        )
        rows = list(s.scalars(stmt))
        for r in rows:
            s.expunge(r)
    more = len(rows) > limit
    rows = rows[:limit]
    _reap(ctx, rows)
    return EvaluationPage(
        items=[_to_evaluation(r, names[r.project_id]) for r in rows],
        next_page_token=_token(offset + limit) if more else None,
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
    offset = _offset(page_token)
    with ctx.db.session() as s:
        base = select(EvaluationExampleRow).where(EvaluationExampleRow.evaluation_id == row.id)
        if errors_only:
            base = base.where(EvaluationExampleRow.error.is_not(None))
        total = int(s.scalar(select(func.count()).select_from(base.subquery())) or 0)
        if worst_first is None:
            items = list(s.scalars(base.order_by(EvaluationExampleRow.idx).offset(offset).limit(limit)))
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

            everything.sort(key=badness)
            items = everything[offset : offset + limit]
        out = [_example(e) for e in items]
    return ExamplePage(
        items=out, total=total, next_page_token=_token(offset + limit) if offset + limit < total else None
    )


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
        )
