"""Online evaluation: a sampled share of live traffic scored by metrics, the scores stored on the traces.

An evaluator names a sample rate and metrics (JSON validity; a registered task metric once a
correction feedback gives the trace its reference; an LLM-as-judge rubric through a registered
model, graded by ``services/evaluate/judge``). A pass runs off the request path (the scheduler's
monitor pass, ``llmloop monitor online run``): it reads the lookback window's traces, keeps those
the trace-id hash samples, and scores those not yet scored for this metric and evaluator version.

Why the hash of the trace id: a rerun, a second server or a later pass samples the same traces,
and a lower rate samples a subset of a higher one, so raising the rate only adds traces. Why a
version: a changed rubric or metric is a different measurement, so it scores the traffic again
rather than mixing with the old scores. Why the unique key: two concurrent passes cannot score a
trace twice. Scoring (a judge's inference above all) runs outside any transaction; the scores of
a pass land in one transaction with one audit event.

A monitor windows the scores as metric ``online:<score name>`` (``windows.measure``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, delete, select

from llmloop.errors import InvalidInput, LlmloopError, NotFound
from llmloop.hashing import unit_hash
from llmloop.refs import validate_name
from llmloop.security import audit
from llmloop.services.monitor import epoch, windows
from llmloop.services.monitor.schemas import (
    OnlineEvaluator,
    OnlineEvaluatorCreate,
    OnlineMetric,
    OnlinePass,
    OnlineRun,
    OnlineScore,
)
from llmloop.store.projects import project_id
from llmloop.store.tables.base import now as wall_clock
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.deployments import FeedbackRow
from llmloop.store.tables.monitoring import OnlineEvaluatorRow, OnlineScoreRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from llmloop.context import Context

SOURCE = "online-eval"
_JUDGE_RAW_CHARS = 500


def sampled(trace_id: str, rate: float) -> bool:
    """Whether ``trace_id`` is in the ``rate`` share: the same answer on every pass and server."""
    return unit_hash(trace_id) < rate  # a rate of 0 samples nothing: the hash is never below 0


# ---- definitions ---------------------------------------------------------------------------------


def _evaluator(row: OnlineEvaluatorRow, project: str) -> OnlineEvaluator:
    return OnlineEvaluator(
        **{**row.spec, "project": project},
        id=row.id,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        created_by=row.created_by,
    )


def check(ctx: Context, spec: OnlineEvaluatorCreate, *, key: str = "") -> None:
    """Refuse metrics that name no registered metric or model, naming the key, before any write."""
    from llmloop.services.evaluate.metrics.registry import get_metric
    from llmloop.services.evaluate.seams import load_generator
    from llmloop.services.registry import service as registry

    for j, m in enumerate(spec.metrics):
        where = f"{key}metrics[{j}]"
        try:
            if m.kind == "task" and m.metric:
                get_metric(m.metric, **m.options)
            elif m.kind == "judge" and m.model and m.model.startswith("py:"):
                load_generator(ctx, m.model)  # a judge in Python: it must import
            elif m.kind == "judge" and m.model:
                registry.get_model_version(ctx, ref=m.model.removeprefix("models:"), project=spec.project)
        except (InvalidInput, NotFound) as e:
            field = "metric" if m.kind == "task" else "model"
            raise InvalidInput(
                f"online evaluator {spec.name!r}: {where}.{field}: {e.message}",
                details={"key": f"{where}.{field}", "evaluator": spec.name},
            ) from e
        except TypeError as e:  # a task metric built with options it does not take
            raise InvalidInput(
                f"online evaluator {spec.name!r}: {where}.options: {e}",
                details={"key": f"{where}.options", "evaluator": spec.name},
            ) from e


def put_evaluator(s: Session, ctx: Context, spec: OnlineEvaluatorCreate) -> OnlineEvaluator:
    """Create evaluator ``spec.name`` or replace it; a changed spec is a new version (scored anew)."""
    pid = project_id(s, spec.project, create=True)
    body = spec.model_dump(mode="json", exclude={"project"})
    row = s.scalar(
        select(OnlineEvaluatorRow).where(
            OnlineEvaluatorRow.project_id == pid, OnlineEvaluatorRow.name == spec.name
        )
    )
    before = None
    if row is None:
        row = OnlineEvaluatorRow(
            id=uuid.uuid4().hex, project_id=pid, name=spec.name, spec=body, version=1, created_by=ctx.actor.id
        )
        s.add(row)
    elif row.spec != body:
        before = {**row.spec, "version": row.version}
        row.spec, row.version, row.updated_at = body, row.version + 1, wall_clock()
    else:
        return _evaluator(row, spec.project)  # unchanged: nothing written, nothing to audit
    s.flush()
    audit.record(
        s,
        ctx,
        "online_eval.put",
        f"online:{spec.project}/{spec.name}",
        before=before,
        after={**body, "version": row.version},
        project=spec.project,
    )
    return _evaluator(row, spec.project)


def create_evaluator(ctx: Context, *, spec: OnlineEvaluatorCreate) -> OnlineEvaluator:
    ctx.require("monitors:write", spec.project)
    check(ctx, spec)
    with ctx.db.session() as s:
        return put_evaluator(s, ctx, spec)


def delete_evaluator(ctx: Context, *, project: str, name: str) -> None:
    """Remove evaluator ``name`` of ``project`` and its stored scores.

    The scores go with it: a monitor windows ``online:<score name>`` over whatever scores are stored,
    so a deleted evaluator's scores would keep moving the figure of a definition that no longer
    exists, and nothing could say which spec they measured. The audit event keeps the spec and how
    many scores went, which is the history. A pass scoring meanwhile finds the evaluator gone and
    stores nothing (``_store``).
    """
    missing = NotFound(
        f"online evaluator {name!r} not found in {project!r}", details={"evaluator": name, "project": project}
    )
    validate_name(project, what="project")
    ctx.require("monitors:write", project, missing=missing)
    with ctx.db.session() as s:
        pid = s.scalar(select(ProjectRow.id).where(ProjectRow.name == project))
        row = s.scalar(
            select(OnlineEvaluatorRow).where(
                OnlineEvaluatorRow.project_id == pid, OnlineEvaluatorRow.name == name
            )
        )
        if row is None:
            raise missing
        scores = s.execute(delete(OnlineScoreRow).where(OnlineScoreRow.evaluator_id == row.id))
        removed = int(cast("CursorResult[Any]", scores).rowcount or 0)
        before = {**row.spec, "version": row.version, "scores": removed}
        s.delete(row)
        s.flush()
        audit.record(s, ctx, "online_eval.delete", f"online:{project}/{name}", before=before, project=project)


def list_evaluators(ctx: Context, *, project: str) -> list[OnlineEvaluator]:
    ctx.require("monitors:read", project)
    with ctx.db.session() as s:
        pid = project_id(s, project)
        q = select(OnlineEvaluatorRow).where(OnlineEvaluatorRow.project_id == pid)
        return [_evaluator(r, project) for r in s.scalars(q.order_by(OnlineEvaluatorRow.name))]


def list_scores(ctx: Context, *, project: str, trace_id: str) -> list[OnlineScore]:
    """The online scores on one trace of ``project`` (a trace of another project has none)."""
    ctx.require("monitors:read", project)
    with ctx.db.session() as s:
        pid = project_id(s, project)
        q = (
            select(OnlineScoreRow, OnlineEvaluatorRow.name)
            .join(OnlineEvaluatorRow, OnlineEvaluatorRow.id == OnlineScoreRow.evaluator_id)
            .where(OnlineScoreRow.project_id == pid, OnlineScoreRow.trace_id == trace_id)
            .order_by(OnlineScoreRow.id)
        )
        return [
            OnlineScore(
                evaluator=name,
                version=r.version,
                metric=r.metric,
                trace_id=r.trace_id,
                score=r.score,
                detail=r.detail,
                created_at=r.created_at,
            )
            for r, name in s.execute(q)
        ]


# ---- scoring -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scored:
    metric: str
    trace_id: str
    score: float | None
    detail: dict[str, Any]


def _score(
    ctx: Context, m: OnlineMetric, reqs: list[windows.Request], refs: dict[str, str], project: str
) -> list[_Scored]:
    from llmloop.services.evaluate.judge import grade
    from llmloop.services.evaluate.metrics.base import MetricInputs
    from llmloop.services.evaluate.metrics.registry import get_metric
    from llmloop.services.evaluate.seams import load_generator

    predictions = [r.output_text for r in reqs]
    inputs = [r.input_text for r in reqs]
    name = m.score_name
    if m.kind == "judge":
        judge = load_generator(ctx, m.model or "", project=project)
        low, high = m.scale
        g = grade(judge.generate, inputs=inputs, predictions=predictions, rubric=m.rubric, low=low, high=high)
        return [
            _Scored(name, r.trace_id, score, {"judge": judge.ref, "raw": (raw or "")[:_JUDGE_RAW_CHARS]})
            for r, score, raw in zip(reqs, g.scores, g.raw, strict=True)
        ]
    if m.kind == "task":
        metric = get_metric(m.metric or "", **m.options)
        got = metric.compute(
            MetricInputs(
                predictions=predictions, references=[[refs[r.trace_id]] for r in reqs], inputs=inputs
            )
        )
        return [
            _Scored(name, r.trace_id, v, {"reference": "correction"})
            for r, v in zip(reqs, got.per_example, strict=True)
        ]
    got = get_metric("json_valid").compute(MetricInputs(predictions=predictions))
    return [_Scored(name, r.trace_id, v, {}) for r, v in zip(reqs, got.per_example, strict=True)]


def _chunks(ids: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _done(s: Session, row: OnlineEvaluatorRow, trace_ids: list[str]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for chunk in _chunks(trace_ids):
        q = select(OnlineScoreRow.metric, OnlineScoreRow.trace_id).where(
            OnlineScoreRow.evaluator_id == row.id,
            OnlineScoreRow.version == row.version,
            OnlineScoreRow.trace_id.in_(chunk),
        )
        out.update((metric, trace_id) for metric, trace_id in s.execute(q))
    return out


def _corrections(s: Session, pid: str, trace_ids: list[str]) -> dict[str, str]:
    """Each trace's latest correction feedback: the reference its task metrics are scored against."""
    out: dict[str, str] = {}
    for chunk in _chunks(trace_ids):
        q = (
            select(FeedbackRow.trace_id, FeedbackRow.correction)
            .where(
                FeedbackRow.project_id == pid,
                FeedbackRow.trace_id.in_(chunk),
                FeedbackRow.correction.is_not(None),
            )
            .order_by(FeedbackRow.created_at)
        )
        out.update({t: c for t, c in s.execute(q) if c})
    return out


def _one_pass(ctx: Context, evaluator_id: str, project: str, at: float) -> OnlinePass | None:
    generation = epoch.current(ctx)  # before the traces are read: an erasure after it voids the scores
    with ctx.db.session() as s:
        row = s.get(OnlineEvaluatorRow, evaluator_id)
        if row is None:  # deleted meanwhile
            return None
        spec = OnlineEvaluatorCreate.model_validate({**row.spec, "project": project})
        version = row.version
        reqs = windows.requests(
            s,
            project_id=row.project_id,
            start=at - spec.lookback_s,
            end=at,
            model=spec.model,
            deployment=spec.deployment,
        )
        picked = [r for r in reqs if r.status != "error" and sampled(r.trace_id, spec.sample_rate)]
        ids = [r.trace_id for r in picked]
        done = _done(s, row, ids)
        refs = _corrections(s, row.project_id, ids) if any(m.kind == "task" for m in spec.metrics) else {}
    left = spec.max_per_pass
    scored: dict[str, int] = {}
    awaiting = 0
    errors: list[str] = []
    new: list[_Scored] = []
    for m in spec.metrics:
        name = m.score_name
        todo = [r for r in picked if (name, r.trace_id) not in done]
        if m.kind == "task":
            awaiting += sum(r.trace_id not in refs for r in todo)
            todo = [r for r in todo if r.trace_id in refs]
        todo = todo[:left]  # oldest first: a backlog drains in arrival order
        scored[name] = 0
        if not todo:
            continue
        try:
            got = _score(ctx, m, todo, refs, project)
        except LlmloopError as e:  # one broken metric (a judge that will not load) must not stop the rest
            errors.append(f"{name}: {e.message}")
            continue
        left -= len(got)
        scored[name] = len(got)
        new += got
    if new and not _store(ctx, evaluator_id, project, spec.name, version, new, generation):
        scored = dict.fromkeys(scored, 0)
        errors.append(
            "scores not stored: an erasure or purge committed during this pass and may have removed "
            "traces it scored; the next pass scores what is left"
        )
    return OnlinePass(
        evaluator=spec.name,
        project=project,
        version=version,
        seen=len(reqs),
        sampled=len(picked),
        scored=scored,
        awaiting_reference=awaiting,
        errors=errors,
    )


def _store(
    ctx: Context,
    evaluator_id: str,
    project: str,
    name: str,
    version: int,
    new: list[_Scored],
    generation: int,
) -> bool:
    """Store a pass's scores; False (nothing stored) when an erasure or purge committed since the pass
    read its traces (the scores may be of erased traces)."""
    with ctx.db.session() as s:
        if not epoch.hold(s, generation):
            return False
        row = s.get(OnlineEvaluatorRow, evaluator_id)
        if row is None or row.version != version:  # replaced while scoring: these scores measure the old spec
            return True
        already = _done(s, row, sorted({x.trace_id for x in new}))  # a concurrent pass got there first
        fresh = [x for x in new if (x.metric, x.trace_id) not in already]
        for x in fresh:
            s.add(
                OnlineScoreRow(
                    evaluator_id=evaluator_id,
                    project_id=row.project_id,
                    version=version,
                    metric=x.metric,
                    trace_id=x.trace_id,
                    score=x.score,
                    detail=x.detail,
                )
            )
        if not fresh:
            return True
        s.flush()
        counts: dict[str, int] = {}
        for x in fresh:
            counts[x.metric] = counts.get(x.metric, 0) + 1
        audit.record(
            s,
            ctx,
            "online_eval.scored",
            f"online:{project}/{name}",
            after={"version": version, "scored": counts, "source": SOURCE},
            project=project,
        )
    return True


def run_online(
    ctx: Context, *, project: str | None = None, evaluator: str | None = None, now: float | None = None
) -> OnlineRun:
    """One pass of every online evaluator (of ``project``; only ``evaluator``) over its lookback window."""
    at = time.time() if now is None else now
    with ctx.db.session() as s:
        names = {pid: name for pid, name in s.execute(select(ProjectRow.id, ProjectRow.name))}
        q = select(OnlineEvaluatorRow.id, OnlineEvaluatorRow.project_id).order_by(
            OnlineEvaluatorRow.project_id, OnlineEvaluatorRow.name
        )
        if project is not None:
            ctx.require("monitors:run", project)
            q = q.where(OnlineEvaluatorRow.project_id == project_id(s, project))
        if evaluator is not None:
            q = q.where(OnlineEvaluatorRow.name == evaluator)
        todo = [(eid, names[pid]) for eid, pid in s.execute(q) if ctx.actor.can("monitors:run", names[pid])]
    if evaluator is not None and not todo:
        raise NotFound(f"online evaluator {evaluator!r} not found", details={"evaluator": evaluator})
    passes = [p for eid, proj in todo if (p := _one_pass(ctx, eid, proj, at)) is not None]
    return OnlineRun(passes=passes)
