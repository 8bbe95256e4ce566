"""Evaluation service: run a suite against a model, store every example, read results back.

``run_suite`` does everything that can fail on bad input first (metric names and options, rows,
references, prompts, the model), before it writes anything. It then creates the evaluation
``running`` with its tracking run, generates, scores, and in ONE transaction writes every example,
the aggregates and ``completed``. A crash leaves a ``running`` (later ``failed``) evaluation with no
examples; nothing half-done is ever marked complete. Model errors on some examples are recorded on
those examples and reported as the error rate; only when every example fails does the evaluation fail.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, update

from llmloop.context import Context
from llmloop.errors import InvalidInput, LlmloopError, Unavailable
from llmloop.security import audit
from llmloop.services.evaluate.generation import Generator, Outcome, ProgressFn, generate_all
from llmloop.services.evaluate.results import find_evaluation, get_evaluation
from llmloop.services.evaluate.schemas import (
    Evaluation,
    MetricAggregate,
)
from llmloop.services.evaluate.scoring import (
    BuiltMetric,
    Scored,
    build_metrics,
    check_references,
    score_examples,
)
from llmloop.services.evaluate.seams import (
    EvalRow,
    Resolved,
    inputs_sha256,
    load_generator,
    load_rows,
    prompt_renderer,
    render_prompts,
    resolve_dataset,
    resolve_prompt,
)
from llmloop.services.evaluate.suite import MetricSpec, Suite
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.environment import capture_environment
from llmloop.services.tracking.schemas import MetricPoint, RunBatch, RunCreate
from llmloop.store.lineage import Edge, add_edge
from llmloop.store.projects import project_id
from llmloop.store.tables.base import now
from llmloop.store.tables.evaluations import EvaluationExampleRow, EvaluationRow

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
    dataset: Resolved
    prompt: Resolved | None


def prepare_suite(
    ctx: Context, *, suite: Suite, project: str | None = None, limit: int | None = None
) -> Prepared:
    """Validate a suite against the store: metrics, rows, references and prompts."""
    proj = _project(ctx, suite, project)
    ctx.require("evaluations:write", proj)
    metrics = build_metrics(suite.metrics, prepare=lambda spec: _prepare_options(ctx, spec, proj))
    dataset = resolve_dataset(ctx, suite.dataset, project=proj)
    prompt = resolve_prompt(ctx, suite.prompt, project=proj)
    pinned = suite.model_copy(
        update={
            "dataset": suite.dataset.model_copy(update={"ref": dataset.ref})
            if suite.dataset.ref
            else suite.dataset,
            "prompt": suite.prompt.model_copy(update={"ref": prompt.ref})
            if suite.prompt and prompt
            else suite.prompt,
        }
    )
    rows = load_rows(ctx, pinned.dataset, project=proj, base=pinned)
    if limit is not None:
        rows = rows[:limit]
    check_references(metrics, rows)
    prompts = render_prompts(ctx, pinned, rows, project=proj)
    return Prepared(proj, suite, metrics, rows, prompts, inputs_sha256(rows, prompts), dataset, prompt)


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
        _complete(ctx, evaluation_id, prep, outcomes, scored)
    except BaseException as e:
        _fail(ctx, evaluation_id, run_id, e)
        raise
    _finish_run(ctx, run_id, scored.aggregates, len(failed) / len(outcomes))
    return get_evaluation(ctx, evaluation_id=evaluation_id)


def _start(ctx: Context, prep: Prepared, *, model_ref: str, model_version: str | None) -> tuple[str, str]:
    suite = prep.suite
    dataset_ref = prep.dataset.ref
    prompt_ref = prep.prompt.ref if prep.prompt is not None else None
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
                suite_config=suite.public_dict(),
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
                    "metric_options": suite.public_dict()["metrics"],
                    "gates": [g.model_dump() for g in suite.gates],
                },
                created_at=now(),
                created_by=ctx.actor.id,
            )
        )
        s.flush()
        # upstream of the evaluation: its run and the exact versions it read (the services' own entity
        # names and ids); the run gets the same inputs, so walking back from the run shows them too
        edges = [Edge("run", run.id, "produced", "evaluation", evaluation_id)]
        inputs = [
            ("model_version", model_version),
            ("dataset_version", prep.dataset.version_id),
            ("prompt_version", prep.prompt.version_id if prep.prompt else None),
        ]
        for kind, version_id in inputs:
            if version_id:
                edges.append(Edge(kind, version_id, "input_to", "evaluation", evaluation_id))
                edges.append(Edge(kind, version_id, "input_to", "run", run.id))
        for edge in edges:
            add_edge(s, edge)
        audit.record(
            s,
            ctx,
            "evaluations.create",
            f"evaluation:{evaluation_id}",
            after={"suite": suite.name, "model": model_ref[:512], "dataset": dataset_ref, "run": run.id},
            project=prep.project,
        )
    return evaluation_id, run.id


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _complete(
    ctx: Context,
    evaluation_id: str,
    prep: Prepared,
    outcomes: Sequence[Outcome],
    scored: Scored,
) -> None:
    records = [
        {
            "evaluation_id": evaluation_id,
            "idx": i,
            "example_id": row.id[:256],
            "input": prompt,
            "output": o.text,
            "reference": row.reference,
            "metadata": row.metadata,  # the column (attribute: meta)
            "scores": {k: _finite(v) for k, v in scored.scores[i].items()},
            "stats": scored.stats[i] or None,
            "rationales": scored.rationales[i] or None,
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
        for k, a in scored.aggregates.items()
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
