"""Tracking service: every interface (SDK, CLI, REST) creates, logs to and reads runs through here.

Creating a run and writing a batch (metrics, params, tags, and optionally the run's end)
each happen in one transaction through SQLAlchemy Core with statements built once,
because training loops and sweeps call them in a hot loop; metric points go to the
driver as tuples (``bulk``) and a project's id and a run's project are looked up once
per process (``Database.memo``). Reads build ``Run`` objects from plain rows. A run whose
process died without ending it is marked ``killed`` the next time anyone reads it, so
nothing stays "running" forever.
"""

from __future__ import annotations

import math
import operator
import os
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import from_json
from sqlalchemy import (
    BindParameter,
    Connection,
    Row,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from llmloop.context import Context
from llmloop.errors import Conflict, InvalidInput, NotFound
from llmloop.refs import validate_name
from llmloop.security import audit
from llmloop.services.tracking import bulk, search
from llmloop.services.tracking.schemas import (
    MetricPoint,
    Run,
    RunArtifact,
    RunBatch,
    RunCreate,
    RunPage,
    RunSearch,
    RunStatus,
    check_key,
    param_value,
)
from llmloop.store import pages
from llmloop.store.artifacts import safe_relpath
from llmloop.store.projects import project_id, project_name
from llmloop.store.tables.base import now
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.tracking import (
    LatestMetricRow,
    MetricRow,
    ParamRow,
    RunArtifactRow,
    RunRow,
    TagRow,
)

HOST = socket.gethostname()
STALE_HEARTBEAT_S = 300.0
HOLD_GRACE_S = 3.0  # a client whose hold dropped has this long to hold again (a network blip) before
MAX_HOLD_S = 300.0  # ... its run is marked killed; one hold request lasts at most this long
MEMO_MAX = 100_000  # remembered lookups per database before the memo starts over

# Statements built once: SQLAlchemy then reuses their compiled form on every call.
_RUN_COLUMNS = (
    RunRow.id,
    RunRow.project_id,
    RunRow.name,
    RunRow.kind,
    RunRow.parent_id,
    RunRow.status,
    RunRow.start_time,
    RunRow.end_time,
    RunRow.heartbeat_at,
    RunRow.host,
    RunRow.pid,
    cast(RunRow.env, Text).label("env"),  # parsed by pydantic-core's JSON reader, a few times faster
    RunRow.created_by,
)
_IN_CHUNK = 900  # ids per IN (...) list, under SQLite's old limit of 999 variables
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_PARAMS_OF = select(ParamRow.run_id, ParamRow.key, ParamRow.value).where(ParamRow.run_id.in_(_IDS))
_TAGS_OF = select(TagRow.run_id, TagRow.key, TagRow.value).where(TagRow.run_id.in_(_IDS))
_METRICS_OF = select(LatestMetricRow.run_id, LatestMetricRow.key, LatestMetricRow.value).where(
    LatestMetricRow.run_id.in_(_IDS)
)
_ARTIFACTS_OF = (
    select(RunArtifactRow.run_id, RunArtifactRow.path, RunArtifactRow.sha256, RunArtifactRow.size)
    .where(RunArtifactRow.run_id.in_(_IDS))
    .order_by(RunArtifactRow.path)
)
_RUN_PROJECT_ID = select(RunRow.project_id).where(RunRow.id == bindparam("rid"))
_RUN_PROJECT_NAME = (
    select(ProjectRow.name)
    .join(RunRow, RunRow.project_id == ProjectRow.id)
    .where(RunRow.id == bindparam("rid"))
)
_RUN_STATUS = select(RunRow.status).where(RunRow.id == bindparam("rid"))
_INSERT_RUN = insert(RunRow)
_INSERT_PARAMS = insert(ParamRow)
_INSERT_TAGS = insert(TagRow)
_EXISTING_PARAMS = select(ParamRow.key, ParamRow.value).where(
    ParamRow.run_id == bindparam("rid"), ParamRow.key.in_(bindparam("keys", expanding=True))
)
# Only a running run takes a heartbeat or an end; rowcount 0 means it has ended already.
_TOUCH = (
    update(RunRow)
    .where(RunRow.id == bindparam("rid"), RunRow.status == "running")
    .values(heartbeat_at=bindparam("t"))
)
_END = (
    update(RunRow)
    .where(RunRow.id == bindparam("rid"), RunRow.status == "running")
    .values(heartbeat_at=bindparam("t"), end_time=bindparam("t"), status=bindparam("st"))
)
_RUNS = TypeAdapter(list[Run])
_POINTS = TypeAdapter(list[MetricPoint])


# What a caller writes in the transaction that creates or ends a run: it lands with the run's row
# or not at all (a pipeline step's state beside its tracked run), and costs no second commit.
Also = Callable[[Connection, str], None]  # (connection, run id)


def create_run(ctx: Context, *, spec: RunCreate, also: Also | None = None) -> Run:
    validate_name(spec.project, what="project")
    ctx.require("runs:write", spec.project)
    params = {check_key(k, "param"): param_value(k, v) for k, v in spec.params.items()}
    tags = {check_key(k, "tag"): v for k, v in spec.tags.items()}
    run_id = uuid.uuid4().hex
    t = now()
    name = spec.name or f"run-{run_id[:8]}"
    with ctx.db.connect() as conn:
        pid = ctx.db.memo.get(("project", spec.project))
        if pid is None:
            with Session(bind=conn) as s:  # joins this transaction; commits nothing itself
                pid = project_id(s, spec.project, create=True)
        if spec.parent_id is not None and conn.scalar(_RUN_PROJECT_ID, {"rid": spec.parent_id}) != pid:
            raise NotFound(f"parent run {spec.parent_id!r} not found in project {spec.project!r}")
        conn.execute(
            _INSERT_RUN,
            {
                "id": run_id,
                "project_id": pid,
                "name": name,
                "kind": spec.kind,
                "parent_id": spec.parent_id,
                "status": "running",
                "start_time": t,
                "heartbeat_at": t,
                "host": spec.host or HOST,
                "pid": spec.pid if spec.pid is not None else os.getpid(),
                "env": spec.env,
                "created_by": ctx.actor.id,
            },
        )
        if params:
            conn.execute(
                _INSERT_PARAMS, [{"run_id": run_id, "key": k, "value": v} for k, v in params.items()]
            )
        if tags:
            conn.execute(_INSERT_TAGS, [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()])
        audit.record(conn, ctx, "runs.create", f"run:{run_id}", after={"name": name}, project=spec.project)
        if also is not None:
            also(conn, run_id)
    _remember(ctx, ("project", spec.project), pid)  # only once committed
    _remember(ctx, ("run", run_id), spec.project)
    return Run(
        id=run_id,
        project=spec.project,
        name=name,
        kind=spec.kind,
        parent_id=spec.parent_id,
        status="running",
        start_time=t,
        params=params,
        tags=tags,
        env=spec.env,
        created_by=ctx.actor.id,
    )


def _remember(ctx: Context, key: tuple[str, str], value: str) -> None:
    memo = ctx.db.memo
    if len(memo) >= MEMO_MAX:
        memo.clear()
    memo[key] = value


def _run_not_found(run_id: str) -> NotFound:
    return NotFound(f"run {run_id!r} not found", details={"run_id": run_id})


def _run_project(ctx: Context, conn: Connection, run_id: str) -> str:
    """The name of the run's project (runs never move, so it is remembered)."""
    name = ctx.db.memo.get(("run", run_id))
    if name is None:
        name = conn.scalar(_RUN_PROJECT_NAME, {"rid": run_id})
        if name is None:
            raise _run_not_found(run_id)
        _remember(ctx, ("run", run_id), name)
    return name


def _stored(value: Any) -> float | None:
    """A metric value as the store holds it: a float, NaN as NULL."""
    v = float(value)
    return None if v != v else v


def _metric_rows(run_id: str, batch: RunBatch) -> list[bulk.MetricTuple]:
    # ``v == v`` is False only for NaN; strings ("NaN", "Infinity") and ints take the slow branch.
    rows: list[bulk.MetricTuple] = [
        (run_id, k, v if v.__class__ is float and v == v else _stored(v), s, ts)
        for k, v, s, ts in batch.points
    ]
    rows += [(run_id, m.key, _stored(m.value), m.step, m.timestamp) for m in batch.metrics]
    for key in {r[1] for r in rows}:
        check_key(key, "metric")
    return rows


_upserts: dict[tuple[str, str], Any] = {}  # (dialect, purpose) -> statement
_STEP_TIME = operator.itemgetter(3, 4)


def _dialect_insert(conn: Connection, table: Any) -> Any:
    """An INSERT that knows ON CONFLICT, for SQLite or PostgreSQL."""
    from sqlalchemy.dialects import postgresql, sqlite  # here: importing them costs ~50 ms

    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _upsert_latest(conn: Connection, rows: list[bulk.MetricTuple]) -> None:
    # The last row per key in (step, timestamp) order; the sort is stable, so of equal points
    # the one logged last wins, and nearly free on the usual already-ordered series.
    latest = {r[1]: r for r in sorted(rows, key=_STEP_TIME)}
    stmt = _upserts.get((conn.dialect.name, "latest"))
    if stmt is None:
        ins = _dialect_insert(conn, LatestMetricRow)
        stmt = _upserts[(conn.dialect.name, "latest")] = ins.on_conflict_do_update(
            index_elements=[LatestMetricRow.run_id, LatestMetricRow.key],
            set_={
                "value": ins.excluded.value,
                "step": ins.excluded.step,
                "timestamp": ins.excluded.timestamp,
            },
            where=(ins.excluded.step > LatestMetricRow.step)
            | (
                (ins.excluded.step == LatestMetricRow.step)
                & (ins.excluded.timestamp >= LatestMetricRow.timestamp)
            ),
        )
    conn.execute(stmt, [dict(zip(bulk.COLUMNS, r, strict=True)) for r in latest.values()])


def _add_params(conn: Connection, run_id: str, params: dict[str, str]) -> None:
    """Params are immutable: logging the same value again is fine, another value is a Conflict.

    Where the driver can, new params are inserted first (``ON CONFLICT DO NOTHING RETURNING``)
    and only keys that were there already are read back and compared: one statement, not two,
    in the usual case of params logged once.
    """
    rows = [{"run_id": run_id, "key": k, "value": v} for k, v in params.items()]
    if conn.dialect.insert_executemany_returning:
        stmt = _upserts.get((conn.dialect.name, "params"))
        if stmt is None:
            ins = _dialect_insert(conn, ParamRow)
            stmt = _upserts[(conn.dialect.name, "params")] = ins.on_conflict_do_nothing(
                index_elements=[ParamRow.run_id, ParamRow.key]
            ).returning(ParamRow.key)
        inserted = set(conn.execute(stmt, rows).scalars())
        params = {k: v for k, v in params.items() if k not in inserted}
        rows = []
        if not params:
            return
    existing: dict[str, str] = dict(
        conn.execute(_EXISTING_PARAMS, {"rid": run_id, "keys": list(params)}).all()
    )
    changed = sorted(k for k, v in params.items() if k in existing and existing[k] != v)
    if changed:
        k = changed[0]
        raise Conflict(
            f"param {k!r} was already logged with another value ({existing[k]!r}); params are immutable",
            details={"key": k},
        )
    new = [r for r in rows if r["key"] not in existing]
    if new:
        conn.execute(_INSERT_PARAMS, new)


def _set_tags(conn: Connection, run_id: str, tags: dict[str, str]) -> None:
    conn.execute(delete(TagRow).where(TagRow.run_id == run_id, TagRow.key.in_(list(tags))))
    conn.execute(_INSERT_TAGS, [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()])


def log_batch(ctx: Context, *, run_id: str, batch: RunBatch, also: Also | None = None) -> None:
    """Append metrics and set params/tags (and optionally end the run) in one transaction.

    The run's row is updated first (heartbeat, end), which on SQLite takes the write lock
    at once instead of upgrading a read lock later, and tells in the same statement
    whether the run is still running.
    """
    params = {check_key(k, "param"): param_value(k, v) for k, v in batch.params.items()}
    tags = {check_key(k, "tag"): str(v) for k, v in batch.tags.items()}
    rows = _metric_rows(run_id, batch)
    t = now()
    with ctx.db.connect() as conn:
        project = _run_project(ctx, conn, run_id)
        ctx.require("runs:write", project, missing=_run_not_found(run_id))
        if batch.end_status is not None:
            running = conn.execute(_END, {"rid": run_id, "t": t, "st": batch.end_status}).rowcount
        else:
            running = conn.execute(_TOUCH, {"rid": run_id, "t": t}).rowcount
        if not running:
            status = conn.scalar(_RUN_STATUS, {"rid": run_id})
            if status is None:  # deleted since its project was remembered
                raise _run_not_found(run_id)
            if rows or params:
                raise Conflict(
                    f"run {run_id} has ended ({status}); it takes no more metrics or params",
                    details={"run_id": run_id, "status": status},
                )
        if rows:
            bulk.insert_metrics(conn, rows)
            _upsert_latest(conn, rows)
        if params:
            _add_params(conn, run_id, params)
        if tags:
            _set_tags(conn, run_id, tags)
        if batch.end_status is not None and running:  # audited once per run, never per metric batch
            audit.record(
                conn,
                ctx,
                "runs.end",
                f"run:{run_id}",
                {"status": "running"},
                {"status": batch.end_status},
                project=project,
            )
        if also is not None:
            also(conn, run_id)


# Runs held open by a client's connection, in this server process: {run id: open holds}.
_holds: Counter[str] = Counter()
_holds_lock = threading.Lock()


def check_hold(ctx: Context, *, run_id: str) -> None:
    """May the caller hold ``run_id``? (It must exist, be theirs to write, and be running.)

    Holding counts as a heartbeat, so a client that holds again through another server process
    within the grace is seen there too (``_expire_hold`` spares runs with a newer heartbeat).
    """
    with ctx.db.connect() as conn:
        project = _run_project(ctx, conn, run_id)
        ctx.require("runs:write", project, missing=_run_not_found(run_id))
        if not conn.execute(_TOUCH, {"rid": run_id, "t": now()}).rowcount:
            status = conn.scalar(_RUN_STATUS, {"rid": run_id})
            raise Conflict(
                f"run {run_id} has ended ({status}); it cannot be held", details={"run_id": run_id}
            )


def hold_run(run_id: str) -> None:
    """Tie ``run_id`` to the caller's connection until ``release_run``: a lost hold kills the run.

    A process that logs through a server cannot be watched by pid, and a heartbeat that is allowed
    to miss a long training step must be slow to expire; a held connection is neither. When the
    client dies (even by ``kill -9``) its operating system closes the socket, the server sees the
    hold drop, and unless the client holds again within ``HOLD_GRACE_S`` or logs meanwhile, the
    run ends as ``killed`` at once rather than after ``STALE_HEARTBEAT_S``. Call ``check_hold`` first.
    """
    with _holds_lock:
        _holds[run_id] += 1


def run_is_running(ctx: Context, *, run_id: str) -> bool:
    with ctx.db.connect() as conn:
        return conn.scalar(_RUN_STATUS, {"rid": run_id}) == "running"


def release_run(ctx: Context, *, run_id: str, lost: bool) -> None:
    """Close one hold; ``lost`` (the connection dropped, not the hold's time up) starts the grace."""
    with _holds_lock:
        _holds[run_id] -= 1
        if _holds[run_id] <= 0:
            del _holds[run_id]
    if lost:
        timer = threading.Timer(HOLD_GRACE_S, _expire_hold, args=(ctx, run_id, now()))
        timer.daemon = True
        timer.start()


def _expire_hold(ctx: Context, run_id: str, lost_at: float) -> None:
    """Kill the run if nobody holds it again and it logged nothing since its hold was lost."""
    with _holds_lock:
        if _holds.get(run_id):
            return
    with ctx.db.connect() as conn:
        killed = conn.execute(
            update(RunRow)
            .where(RunRow.id == run_id, RunRow.status == "running", RunRow.heartbeat_at <= lost_at)
            .values(status="killed", end_time=RunRow.heartbeat_at)
        ).rowcount
        if killed:
            project = _run_project(ctx, conn, run_id)
            audit.record(
                conn,
                ctx,
                "runs.end",
                f"run:{run_id}",
                {"status": "running"},
                {"status": "killed"},
                project=project,
            )


def end_run(ctx: Context, *, run_id: str, status: RunStatus = "finished") -> Run:
    log_batch(ctx, run_id=run_id, batch=RunBatch(end_status=status))
    return get_run(ctx, run_id=run_id)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _is_dead(row: Row[Any], t: float) -> bool:
    if row.status != "running":
        return False
    if row.host == HOST and row.pid is not None and row.pid != os.getpid():
        return not _pid_alive(row.pid)
    return row.heartbeat_at is not None and t - row.heartbeat_at > STALE_HEARTBEAT_S


def _reap(ctx: Context, rows: Iterable[Any]) -> dict[str, float]:
    """Mark runs whose process is gone as killed, ending at their last heartbeat: {run id: end time}."""
    t = now()
    dead = {r.id: r.heartbeat_at or t for r in rows if _is_dead(r, t)}
    if dead:
        with ctx.db.connect() as conn:
            for run_id, end in dead.items():
                conn.execute(
                    update(RunRow)
                    .where(RunRow.id == run_id, RunRow.status == "running")
                    .values(status="killed", end_time=end)
                )
    return dead


def _to_runs(ctx: Context, rows: Sequence[Any], project_names: dict[str, str]) -> list[Run]:
    """``Run`` records for rows of ``_RUN_COLUMNS``, with params, tags, latest metrics and artifacts."""
    if not rows:
        return []
    killed = _reap(ctx, rows)
    ids = [r.id for r in rows]
    params: dict[str, dict[str, str]] = {i: {} for i in ids}
    tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
    artifacts: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    with ctx.db.connect() as conn:
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = {"ids": ids[start : start + _IN_CHUNK]}
            for rid, k, v in conn.execute(_PARAMS_OF, chunk).all():
                params[rid][k] = v
            for rid, k, v in conn.execute(_TAGS_OF, chunk).all():
                tags[rid][k] = v
            for rid, k, mv in conn.execute(_METRICS_OF, chunk).all():
                metrics[rid][k] = math.nan if mv is None else mv
            for rid, path, sha, size in conn.execute(_ARTIFACTS_OF, chunk).all():
                artifacts[rid].append({"path": path, "sha256": sha, "size": size})
    # One validation pass over plain dicts costs half as much as a model call per run.
    return _RUNS.validate_python(
        [
            {
                "id": r.id,
                "project": project_names[r.project_id],
                "name": r.name,
                "kind": r.kind,
                "parent_id": r.parent_id,
                "status": "killed" if r.id in killed else r.status,
                "start_time": r.start_time,
                "end_time": killed.get(r.id, r.end_time),
                "params": params[r.id],
                "tags": tags[r.id],
                "metrics": metrics[r.id],
                "artifacts": artifacts[r.id],
                "env": from_json(r.env) if r.env else {},
                "created_by": r.created_by,
            }
            for r in rows
        ]
    )


def get_run(ctx: Context, *, run_id: str) -> Run:
    with ctx.db.session() as s:
        row = s.execute(select(*_RUN_COLUMNS).where(RunRow.id == run_id)).first()
        if row is None:
            raise NotFound(f"run {run_id!r} not found", details={"run_id": run_id})
        pname = project_name(s, row.project_id)
    ctx.require("runs:read", pname, missing=_run_not_found(run_id))
    return _to_runs(ctx, [row], {row.project_id: pname})[0]


def metric_history(ctx: Context, *, run_id: str, key: str) -> list[MetricPoint]:
    run = get_run(ctx, run_id=run_id)
    with ctx.db.connect() as conn:
        rows = conn.execute(
            select(MetricRow.value, MetricRow.step, MetricRow.timestamp)
            .where(MetricRow.run_id == run.id, MetricRow.key == key)
            .order_by(MetricRow.step, MetricRow.timestamp, MetricRow.id)
        ).all()
    return _POINTS.validate_python(
        [
            {"key": key, "value": math.nan if v is None else v, "step": st, "timestamp": ts}
            for v, st, ts in rows
        ]
    )


def metric_keys(ctx: Context, *, run_id: str) -> list[str]:
    return sorted(get_run(ctx, run_id=run_id).metrics)


def search_runs(ctx: Context, *, query: RunSearch) -> RunPage:
    offset = pages.decode(query.page_token, "runs").offset  # a caller-chosen order: no key to seek by
    where = search.compile_filter(query.filter)
    order = search.compile_order(query.order_by) or [RunRow.start_time.desc()]
    with ctx.db.session() as s:
        projects = {pid: name for pid, name in s.execute(select(ProjectRow.id, ProjectRow.name))}
        if query.project is not None:
            pid = project_id(s, query.project)
            ctx.require("runs:read", query.project)
            where.append(RunRow.project_id == pid)
        else:
            readable = [pid for pid, name in projects.items() if ctx.actor.can("runs:read", name)]
            where.append(RunRow.project_id.in_(readable))
        if query.parent_id is not None:
            where.append(RunRow.parent_id == query.parent_id)
        stmt = (
            select(*_RUN_COLUMNS)
            .where(*where)
            .order_by(*order, RunRow.id)
            .offset(offset)
            .limit(query.limit + 1)
        )
        rows = list(s.execute(stmt).all())
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    token = pages.encode("runs", offset=offset + query.limit) if more else None
    return RunPage(items=_to_runs(ctx, rows, projects), next_page_token=token)


def count_runs(ctx: Context, *, project: str) -> int:
    with ctx.db.session() as s:
        pid = project_id(s, project)
        ctx.require("runs:read", project)
        return int(s.scalar(select(func.count()).select_from(RunRow).where(RunRow.project_id == pid)) or 0)


def log_artifact(ctx: Context, *, run_id: str, path: str | Path, name: str | None = None) -> RunArtifact:
    """Store a local file as a run artifact under ``name`` (default: its file name)."""
    p = Path(path)
    if p.is_dir():
        raise InvalidInput(f"{p} is a folder; log its files one by one", details={"path": str(p)})
    rel = safe_relpath(name or p.name)
    get_run(ctx, run_id=run_id)  # exists and readable
    blob = ctx.artifacts.put_file(p)
    return record_artifact(ctx, run_id=run_id, name=rel, sha256=blob.sha256, size=blob.size)


def record_artifact(ctx: Context, *, run_id: str, name: str, sha256: str, size: int) -> RunArtifact:
    """Attach an already-stored blob to a run (used after a streamed upload)."""
    rel = safe_relpath(name)
    with ctx.db.connect() as conn:
        ctx.require("artifacts:write", _run_project(ctx, conn, run_id), missing=_run_not_found(run_id))
        conn.execute(
            delete(RunArtifactRow).where(RunArtifactRow.run_id == run_id, RunArtifactRow.path == rel)
        )
        conn.execute(
            insert(RunArtifactRow).values(run_id=run_id, path=rel, sha256=sha256, size=size, created_at=now())
        )
    return RunArtifact(path=rel, sha256=sha256, size=size)


def artifact_of(ctx: Context, *, run_id: str, name: str) -> RunArtifact:
    rel = safe_relpath(name)
    for a in get_run(ctx, run_id=run_id).artifacts:
        if a.path == rel:
            return a
    raise NotFound(f"run {run_id} has no artifact {rel!r}", details={"run_id": run_id, "path": rel})
