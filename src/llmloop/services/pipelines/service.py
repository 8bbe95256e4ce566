"""Pipeline runs in the store: start one, move its steps along, find a cached step, read it back.

A pipeline run is a tracked run (kind ``pipeline``) plus a ``pipeline_runs`` row with the
definition it ran, and one ``pipeline_steps`` row per step. A step's outputs, its cache key and
its lineage edges are written in one transaction when it finishes, so a step that dies half-way
leaves its row ``running``/``failed`` with no outputs: nothing downstream or in the cache can
pick up a half-made result.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from llmloop.context import Context
from llmloop.errors import Conflict, NotFound
from llmloop.security import audit
from llmloop.services.pipelines.definition import PipelineDef
from llmloop.services.pipelines.schemas import PipelineRun, PipelineRunPage, StepStatus
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import RunBatch, RunCreate, RunStatus
from llmloop.store.projects import project_id
from llmloop.store.tables.base import now
from llmloop.store.tables.core import LineageRow, ProjectRow
from llmloop.store.tables.pipelines import PipelineRunRow, PipelineStepRow

HOST = socket.gethostname()
REUSABLE = ("finished", "cached")


def _not_found(run_id: str) -> NotFound:
    return NotFound(f"pipeline run {run_id!r} not found", details={"run": run_id})


def start_pipeline_run(ctx: Context, *, defn: PipelineDef, project: str, executor: str) -> PipelineRun:
    """The tracked parent run and the pipeline's rows, every step ``pending``."""
    ctx.require("pipelines:write", project)
    run = tracking.create_run(
        ctx,
        spec=RunCreate(
            project=project, name=defn.name, kind="pipeline", params={"definition_sha256": defn.digest()}
        ),
    )
    with ctx.db.session() as s:
        s.add(
            PipelineRunRow(
                id=run.id,
                project_id=project_id(s, project),
                name=defn.name,
                status="running",
                definition=defn.model_dump(mode="json"),
                definition_sha256=defn.digest(),
                executor=executor,
                host=HOST,
                pid=os.getpid(),
                started_at=run.start_time,
                created_by=ctx.actor.id,
            )
        )
        for i, step in enumerate(defn.steps):
            s.add(PipelineStepRow(pipeline_run_id=run.id, name=step.name, position=i, kind=step.kind))
        s.flush()
        audit.record(
            s, ctx, "pipelines.run", f"pipeline_run:{run.id}", after={"name": defn.name}, project=project
        )
    return get_pipeline_run(ctx, run_id=run.id)


def claim_for_resume(ctx: Context, *, run_id: str) -> tuple[PipelineRun, PipelineDef]:
    """The run and its stored definition, marked running in this process; refused while its process lives."""
    current = get_pipeline_run(ctx, run_id=run_id)
    ctx.require("pipelines:write", current.project)
    with ctx.db.session() as s:
        row = s.get(PipelineRunRow, run_id)
        assert row is not None
        if row.status == "finished":
            raise Conflict(
                f"pipeline run {run_id} already finished; nothing to resume", details={"run": run_id}
            )
        if (
            row.status == "running"
            and row.host == HOST
            and row.pid not in (None, os.getpid())
            and _alive(row.pid)
        ):
            raise Conflict(f"pipeline run {run_id} is still running (pid {row.pid})", details={"run": run_id})
        row.status, row.pid, row.host, row.ended_at = "running", os.getpid(), HOST, None
        defn = PipelineDef.model_validate(row.definition)
        s.execute(
            update(PipelineStepRow)
            .where(PipelineStepRow.pipeline_run_id == run_id, PipelineStepRow.state.not_in(REUSABLE))
            .values(state="pending", error="")
        )
    return get_pipeline_run(ctx, run_id=run_id), defn


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_step_run(
    ctx: Context,
    *,
    pipeline: PipelineRun,
    step: str,
    kind: str,
    params: Mapping[str, Any],
    values: Mapping[str, Any] | None = None,
) -> str:
    """A tracked run for one step attempt, child of the pipeline's run; the step's row takes
    ``values`` (and the run id) in the same transaction."""

    def also(conn: Connection, run_id: str) -> None:
        if values is not None:
            _set_step(conn, pipeline.id, step, {**values, "run_id": run_id})

    run = tracking.create_run(
        ctx,
        spec=RunCreate(
            project=pipeline.project,
            name=f"{pipeline.name}.{step}",
            kind="pipeline_step",
            parent_id=pipeline.id,
            params=dict(params),
            tags={"pipeline": pipeline.name, "step": step, "kind": kind[:200]},
        ),
        also=also,
    )
    return run.id


def end_step_run(
    ctx: Context,
    *,
    run_id: str,
    status: RunStatus,
    pipeline_run_id: str | None = None,
    step: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> None:
    """End a step attempt's tracked run (audited as runs.end), and give the step's row ``values``
    in the same transaction when they are named."""

    def also(conn: Connection, _: str) -> None:
        if values and pipeline_run_id is not None and step is not None:
            _set_step(conn, pipeline_run_id, step, values)

    tracking.log_batch(ctx, run_id=run_id, batch=RunBatch(end_status=status), also=also)


def _set_step(conn: Connection, pipeline_run_id: str, step: str, values: Mapping[str, Any]) -> None:
    """Give one step's row ``values``: a statement per set of columns, built once and reused, since
    building an UPDATE costs more than SQLite takes to run it on this path (twice per step)."""
    params = {f"v_{k}": v for k, v in values.items()}
    conn.execute(_step_statement(frozenset(values)), {"prid": pipeline_run_id, "step": step, **params})


@functools.lru_cache(maxsize=32)
def _step_statement(columns: frozenset[str]) -> Any:
    return (
        update(PipelineStepRow)
        .where(
            PipelineStepRow.pipeline_run_id == bindparam("prid"), PipelineStepRow.name == bindparam("step")
        )
        .values({c: bindparam(f"v_{c}") for c in sorted(columns)})
    )


def update_step(ctx: Context, *, pipeline_run_id: str, step: str, **values: Any) -> None:
    with ctx.db.connect() as conn:
        _set_step(conn, pipeline_run_id, step, values)


def complete_step(
    ctx: Context,
    *,
    pipeline_run_id: str,
    step: str,
    values: Mapping[str, Any],
    run_id: str,
    inputs: Iterable[tuple[str, str]],
    outputs: Iterable[tuple[str, str]],
) -> None:
    """A step's outputs, cache key and lineage (inputs → step run → outputs), and the end of its
    tracked run, all in one transaction: nothing downstream or in the cache sees half of it.

    Core statements, not the ORM: this runs once per step, cache hits included, and a hit must
    stay within milliseconds. The run id is new, so its edges cannot exist yet.
    """
    t = now()
    unique = dict.fromkeys(  # an entity named by two inputs (or outputs) is one edge
        [(e_type, e_id, "input", "run", run_id) for e_type, e_id in inputs]
        + [("run", run_id, "produced", e_type, e_id) for e_type, e_id in outputs]
    )
    edges = [
        {"src_type": st, "src_id": si, "relation": rel, "dst_type": dt, "dst_id": di, "created_at": t}
        for st, si, rel, dt, di in unique
    ]

    def also(conn: Connection, _: str) -> None:
        _set_step(conn, pipeline_run_id, step, values)
        if edges:
            conn.execute(_INSERT_EDGE, edges)

    tracking.log_batch(ctx, run_id=run_id, batch=RunBatch(end_status="finished"), also=also)


_INSERT_EDGE = insert(LineageRow)


def _newest_reusable(*columns: Any) -> Any:
    """The newest reusable step row of a project (``:project``) that also meets the caller's where;
    statements built once at import, their compiled form reused."""
    return (
        select(*columns)
        .join(PipelineRunRow, PipelineRunRow.id == PipelineStepRow.pipeline_run_id)
        .join(ProjectRow, ProjectRow.id == PipelineRunRow.project_id)
        .where(ProjectRow.name == bindparam("project"), PipelineStepRow.state.in_(REUSABLE))
        .order_by(PipelineStepRow.ended_at.desc())
        .limit(1)
    )


# under a cache key, in any pipeline of the project
_FIND_CACHED = _newest_reusable(PipelineStepRow.__table__).where(
    PipelineStepRow.cache_key == bindparam("key")
)
# the same pipeline's same step: what a miss is explained against
_PREVIOUS_PARTS = _newest_reusable(PipelineStepRow.key_parts).where(
    PipelineRunRow.name == bindparam("pipeline"),
    PipelineStepRow.name == bindparam("step"),
    PipelineStepRow.cache_key.is_not(None),
)


def find_cached(ctx: Context, *, project: str, cache_key: str) -> StepStatus | None:
    """The newest reusable step (any pipeline of ``project``) that produced outputs under ``cache_key``."""
    with ctx.db.connect() as conn:
        row = conn.execute(_FIND_CACHED, {"project": project, "key": cache_key}).first()
    if row is None:
        return None
    return StepStatus.model_validate({k: v for k, v in row._mapping.items() if k in StepStatus.model_fields})


def previous_parts(ctx: Context, *, project: str, pipeline: str, step: str) -> dict[str, Any] | None:
    """The key parts of the last reusable run of this pipeline's step: what a miss is explained against."""
    with ctx.db.connect() as conn:
        parts = conn.scalar(_PREVIOUS_PARTS, {"project": project, "pipeline": pipeline, "step": step})
    return None if parts is None else dict(parts)


def end_pipeline_run(ctx: Context, *, run_id: str, status: str) -> PipelineRun:
    with ctx.db.session() as s:
        s.execute(
            update(PipelineRunRow).where(PipelineRunRow.id == run_id).values(status=status, ended_at=now())
        )
    tracking.end_run(ctx, run_id=run_id, status="finished" if status == "finished" else "failed")
    return get_pipeline_run(ctx, run_id=run_id)


def _step(row: PipelineStepRow) -> StepStatus:
    return StepStatus.model_validate(row)


def _run(s: Session, row: PipelineRunRow, project: str) -> PipelineRun:
    steps = s.scalars(
        select(PipelineStepRow)
        .where(PipelineStepRow.pipeline_run_id == row.id)
        .order_by(PipelineStepRow.position)
    ).all()
    gone = row.status == "running" and row.host == HOST and row.pid != os.getpid() and not _alive(row.pid)
    return PipelineRun(
        id=row.id,
        project=project,
        name=row.name,
        status="killed" if gone else row.status,  # read as such, like a run whose process died
        executor=row.executor,
        definition_sha256=row.definition_sha256,
        started_at=row.started_at,
        ended_at=row.ended_at,
        steps=[_step(r) for r in steps],
    )


def get_pipeline_run(ctx: Context, *, run_id: str) -> PipelineRun:
    with ctx.db.session() as s:
        found = s.execute(
            select(PipelineRunRow, ProjectRow.name)
            .join(ProjectRow, ProjectRow.id == PipelineRunRow.project_id)
            .where(PipelineRunRow.id == run_id)
        ).first()
        if found is None:
            raise _not_found(run_id)
        row, project = found
        ctx.require("pipelines:read", project, missing=_not_found(run_id))
        return _run(s, row, project)


def get_definition(ctx: Context, *, run_id: str) -> PipelineDef:
    run = get_pipeline_run(ctx, run_id=run_id)
    with ctx.db.session() as s:
        row = s.get(PipelineRunRow, run.id)
        assert row is not None
        return PipelineDef.model_validate(row.definition)


def list_pipeline_runs(
    ctx: Context, *, project: str, name: str | None = None, limit: int = 50
) -> PipelineRunPage:
    ctx.require("pipelines:read", project)
    with ctx.db.session() as s:
        q = (
            select(PipelineRunRow)
            .join(ProjectRow, ProjectRow.id == PipelineRunRow.project_id)
            .where(ProjectRow.name == project)
        )
        if name is not None:
            q = q.where(PipelineRunRow.name == name)
        rows = s.scalars(q.order_by(PipelineRunRow.started_at.desc()).limit(limit)).all()
        return PipelineRunPage(items=[_run(s, r, project) for r in rows])
