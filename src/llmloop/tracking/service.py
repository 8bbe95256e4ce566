"""Tracking service: every interface (SDK, CLI, REST) creates, logs to and reads runs through here.

Writes of a batch (metrics, params, tags, and optionally the run's end) happen in one
transaction through SQLAlchemy Core, because training loops and sweeps call this in a
hot loop. A run whose process died without ending it is marked ``killed`` the next time
anyone reads it, so nothing stays "running" forever.
"""

from __future__ import annotations

import base64
import math
import os
import socket
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from llmloop.context import Context
from llmloop.errors import Conflict, InvalidInput, NotFound
from llmloop.refs import validate_name
from llmloop.security import audit
from llmloop.security.rbac import require_or_hide
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
from llmloop.tracking import search
from llmloop.tracking.schemas import (
    MAX_KEY,
    MAX_PARAM,
    MetricPoint,
    Run,
    RunArtifact,
    RunBatch,
    RunCreate,
    RunPage,
    RunSearch,
    RunStatus,
)

HOST = socket.gethostname()
STALE_HEARTBEAT_S = 300.0


def _check_key(key: str, what: str) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY or any(c in key for c in "\x00\n\r"):
        raise InvalidInput(
            f"invalid {what} key {str(key)[:80]!r}: 1-{MAX_KEY} characters, no newlines",
            details={"field": what, "key": str(key)[:80]},
        )
    return key


def _param_value(key: str, value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM:
        raise InvalidInput(
            f"param {key!r} is too long ({len(text)} characters, max {MAX_PARAM})",
            details={"field": "params", "key": key},
        )
    return text


def create_run(ctx: Context, *, spec: RunCreate) -> Run:
    validate_name(spec.project, what="project")
    ctx.require("runs:write", spec.project)
    params = {_check_key(k, "param"): _param_value(k, v) for k, v in spec.params.items()}
    tags = {_check_key(k, "tag"): v for k, v in spec.tags.items()}
    run_id = uuid.uuid4().hex
    t = now()
    name = spec.name or f"run-{run_id[:8]}"
    with ctx.db.session() as s:
        pid = project_id(s, spec.project, create=True)
        if spec.parent_id is not None:
            parent = s.get(RunRow, spec.parent_id)
            if parent is None or parent.project_id != pid:
                raise NotFound(f"parent run {spec.parent_id!r} not found in project {spec.project!r}")
        s.add(
            RunRow(
                id=run_id,
                project_id=pid,
                name=name,
                kind=spec.kind,
                parent_id=spec.parent_id,
                status="running",
                start_time=t,
                heartbeat_at=t,
                host=spec.host or HOST,
                pid=spec.pid if spec.pid is not None else os.getpid(),
                env=spec.env,
                created_by=ctx.actor.id,
            )
        )
        s.flush()
        if params:
            s.execute(insert(ParamRow), [{"run_id": run_id, "key": k, "value": v} for k, v in params.items()])
        if tags:
            s.execute(insert(TagRow), [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()])
        audit.record(s, ctx, "runs.create", f"run:{run_id}", after={"name": name}, project=spec.project)
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


def _run_not_found(run_id: str) -> NotFound:
    return NotFound(f"run {run_id!r} not found", details={"run_id": run_id})


def _project_not_found(project: str) -> NotFound:
    return NotFound(f"project {project!r} not found", details={"project": project})


def _run_project(conn: Connection, run_id: str) -> tuple[str, str, str]:
    row = conn.execute(
        select(RunRow.status, ProjectRow.name, RunRow.project_id)
        .join(ProjectRow, ProjectRow.id == RunRow.project_id)
        .where(RunRow.id == run_id)
    ).first()
    if row is None:
        raise NotFound(f"run {run_id!r} not found", details={"run_id": run_id})
    return row[0], row[1], row[2]


def _upsert_latest(conn: Connection, rows: list[dict[str, Any]]) -> None:
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:
        cur = latest.get(r["key"])
        if cur is None or (r["step"], r["timestamp"]) >= (cur["step"], cur["timestamp"]):
            latest[r["key"]] = r
    if not latest:
        return
    dialect = conn.dialect.name
    ins: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(LatestMetricRow)
    stmt = ins.on_conflict_do_update(
        index_elements=[LatestMetricRow.run_id, LatestMetricRow.key],
        set_={"value": ins.excluded.value, "step": ins.excluded.step, "timestamp": ins.excluded.timestamp},
        where=(ins.excluded.step > LatestMetricRow.step)
        | (
            (ins.excluded.step == LatestMetricRow.step)
            & (ins.excluded.timestamp >= LatestMetricRow.timestamp)
        ),
    )
    conn.execute(stmt, list(latest.values()))


def _upsert_kv(conn: Connection, table: Any, run_id: str, values: dict[str, str], *, immutable: bool) -> None:
    if not values:
        return
    if immutable:
        existing: dict[str, str] = dict(
            conn.execute(
                select(table.key, table.value).where(table.run_id == run_id, table.key.in_(list(values)))
            ).all()
        )
        changed = {k for k, v in values.items() if k in existing and existing[k] != v}
        if changed:
            k = sorted(changed)[0]
            raise Conflict(
                f"param {k!r} was already logged with another value ({existing[k]!r}); params are immutable",
                details={"key": k},
            )
        values = {k: v for k, v in values.items() if k not in existing}
        if values:
            conn.execute(insert(table), [{"run_id": run_id, "key": k, "value": v} for k, v in values.items()])
        return
    conn.execute(delete(table).where(table.run_id == run_id, table.key.in_(list(values))))
    conn.execute(insert(table), [{"run_id": run_id, "key": k, "value": v} for k, v in values.items()])


def log_batch(ctx: Context, *, run_id: str, batch: RunBatch) -> None:
    """Append metrics and set params/tags (and optionally end the run) in one transaction."""
    params = {_check_key(k, "param"): _param_value(k, v) for k, v in batch.params.items()}
    tags = {_check_key(k, "tag"): str(v) for k, v in batch.tags.items()}
    rows = [
        {
            "run_id": run_id,
            "key": _check_key(m.key, "metric"),
            "value": None if math.isnan(m.value) else m.value,
            "step": m.step,
            "timestamp": m.timestamp,
        }
        for m in batch.metrics
    ]
    with ctx.db.connect() as conn:
        status, project, _ = _run_project(conn, run_id)
        require_or_hide(ctx.actor, "runs:write", project, _run_not_found(run_id))
        if status != "running" and (rows or params):
            raise Conflict(
                f"run {run_id} has ended ({status}); it takes no more metrics or params",
                details={"run_id": run_id, "status": status},
            )
        if rows:
            conn.execute(insert(MetricRow), rows)
            _upsert_latest(conn, rows)
        _upsert_kv(conn, ParamRow, run_id, params, immutable=True)
        _upsert_kv(conn, TagRow, run_id, tags, immutable=False)
        values: dict[str, Any] = {"heartbeat_at": now()}
        ending = batch.end_status is not None and status == "running"
        if ending:
            values.update(status=batch.end_status, end_time=values["heartbeat_at"])
        conn.execute(update(RunRow).where(RunRow.id == run_id).values(**values))
        if ending:  # audited once per run, never per metric batch
            audit.record(
                conn,
                ctx,
                "runs.end",
                f"run:{run_id}",
                {"status": status},
                {"status": batch.end_status},
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


def _is_dead(row: RunRow, t: float) -> bool:
    if row.status != "running":
        return False
    if row.host == HOST and row.pid is not None and row.pid != os.getpid():
        return not _pid_alive(row.pid)
    return row.heartbeat_at is not None and t - row.heartbeat_at > STALE_HEARTBEAT_S


def _reap(ctx: Context, rows: Iterable[RunRow]) -> None:
    """Mark runs whose process is gone as killed, ending at their last heartbeat."""
    t = now()
    dead = [r for r in rows if _is_dead(r, t)]
    if not dead:
        return
    with ctx.db.connect() as conn:
        for r in dead:
            conn.execute(
                update(RunRow)
                .where(RunRow.id == r.id, RunRow.status == "running")
                .values(status="killed", end_time=r.heartbeat_at or t)
            )
            r.status, r.end_time = "killed", r.heartbeat_at or t


def _to_runs(ctx: Context, rows: list[RunRow], project_names: dict[str, str]) -> list[Run]:
    if not rows:
        return []
    _reap(ctx, rows)
    ids = [r.id for r in rows]
    params: dict[str, dict[str, str]] = {i: {} for i in ids}
    tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
    artifacts: dict[str, list[RunArtifact]] = {i: [] for i in ids}
    with ctx.db.connect() as conn:
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            for rid, k, v in conn.execute(
                select(ParamRow.run_id, ParamRow.key, ParamRow.value).where(ParamRow.run_id.in_(chunk))
            ):
                params[rid][k] = v
            for rid, k, tv in conn.execute(
                select(TagRow.run_id, TagRow.key, TagRow.value).where(TagRow.run_id.in_(chunk))
            ):
                tags[rid][k] = tv
            for rid, k, mv in conn.execute(
                select(LatestMetricRow.run_id, LatestMetricRow.key, LatestMetricRow.value).where(
                    LatestMetricRow.run_id.in_(chunk)
                )
            ):
                metrics[rid][k] = math.nan if mv is None else mv
            for a in conn.execute(
                select(RunArtifactRow).where(RunArtifactRow.run_id.in_(chunk)).order_by(RunArtifactRow.path)
            ):
                artifacts[a.run_id].append(RunArtifact(path=a.path, sha256=a.sha256, size=a.size))
    return [
        Run(
            id=r.id,
            project=project_names[r.project_id],
            name=r.name,
            kind=r.kind,
            parent_id=r.parent_id,
            status=r.status,
            start_time=r.start_time,
            end_time=r.end_time,
            params=params[r.id],
            tags=tags[r.id],
            metrics=metrics[r.id],
            artifacts=artifacts[r.id],
            env=r.env or {},
            created_by=r.created_by,
        )
        for r in rows
    ]


def get_run(ctx: Context, *, run_id: str) -> Run:
    with ctx.db.session() as s:
        row = s.get(RunRow, run_id)
        if row is None:
            raise NotFound(f"run {run_id!r} not found", details={"run_id": run_id})
        pname = project_name(s, row.project_id)
        s.expunge(row)
    try:
        ctx.require("runs:read", pname)
    except Exception as e:  # no existence leak across projects
        raise NotFound(f"run {run_id!r} not found", details={"run_id": run_id}) from e
    return _to_runs(ctx, [row], {row.project_id: pname})[0]


def metric_history(ctx: Context, *, run_id: str, key: str) -> list[MetricPoint]:
    run = get_run(ctx, run_id=run_id)
    with ctx.db.connect() as conn:
        rows = conn.execute(
            select(MetricRow.value, MetricRow.step, MetricRow.timestamp)
            .where(MetricRow.run_id == run.id, MetricRow.key == key)
            .order_by(MetricRow.step, MetricRow.timestamp, MetricRow.id)
        ).all()
    return [
        MetricPoint(key=key, value=math.nan if v is None else v, step=st, timestamp=ts) for v, st, ts in rows
    ]


def metric_keys(ctx: Context, *, run_id: str) -> list[str]:
    return sorted(get_run(ctx, run_id=run_id).metrics)


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        return max(0, int(base64.urlsafe_b64decode(token.encode()).decode()))
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInput("invalid page_token", details={"field": "page_token"}) from e


def search_runs(ctx: Context, *, query: RunSearch) -> RunPage:
    offset = _decode_token(query.page_token)
    where = search.compile_filter(query.filter)
    order = search.compile_order(query.order_by) or [RunRow.start_time.desc()]
    with ctx.db.session() as s:
        projects = {pid: name for pid, name in s.execute(select(ProjectRow.id, ProjectRow.name))}
        if query.project is not None:
            pid = project_id(s, query.project)
            require_or_hide(ctx.actor, "runs:read", query.project, _project_not_found(query.project))
            where.append(RunRow.project_id == pid)
        else:
            readable = [pid for pid, name in projects.items() if ctx.actor.can("runs:read", name)]
            where.append(RunRow.project_id.in_(readable))
        if query.parent_id is not None:
            where.append(RunRow.parent_id == query.parent_id)
        stmt = select(RunRow).where(*where).order_by(*order, RunRow.id).offset(offset).limit(query.limit + 1)
        rows = list(s.scalars(stmt))
        for r in rows:
            s.expunge(r)
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    token = base64.urlsafe_b64encode(str(offset + query.limit).encode()).decode() if more else None
    return RunPage(items=_to_runs(ctx, rows, projects), next_page_token=token)


def count_runs(ctx: Context, *, project: str) -> int:
    with ctx.db.session() as s:
        pid = project_id(s, project)
        require_or_hide(ctx.actor, "runs:read", project, _project_not_found(project))
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
        _, project, _ = _run_project(conn, run_id)
        require_or_hide(ctx.actor, "artifacts:write", project, _run_not_found(run_id))
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
