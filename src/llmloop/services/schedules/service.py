"""Schedules in the store: create, list, delete, and record each firing.

The cron expression is checked with APScheduler's own parser when the schedule is created, so a
schedule that is stored is one the scheduler can run; the server's scheduler picks up created
and deleted schedules on its next sync (``scheduler.SYNC_S``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from llmloop.context import Context
from llmloop.errors import Conflict, InvalidInput, NotFound, Unavailable
from llmloop.security import audit
from llmloop.services.schedules.jobs import job_kind
from llmloop.services.schedules.schemas import Schedule, ScheduleCreate, ScheduleList
from llmloop.store.projects import project_id
from llmloop.store.tables.base import now
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.pipelines import ScheduleRow


def cron_trigger(cron: str) -> Any:
    """APScheduler's CronTrigger for five crontab fields in UTC, or InvalidInput naming ``cron``."""
    try:
        from apscheduler.triggers.cron import CronTrigger
    except ImportError as e:
        raise Unavailable("schedules need: pip install 'llmloop[serve]' (apscheduler)") from e
    try:
        return CronTrigger.from_crontab(cron, timezone=UTC)
    except ValueError as e:
        raise InvalidInput(
            f"cron {cron!r}: {e} (five fields: minute hour day month weekday)", details={"field": "cron"}
        ) from e


def next_fire(cron: str) -> float | None:
    at = cron_trigger(cron).get_next_fire_time(None, datetime.now(UTC))
    return at.timestamp() if at is not None else None


def _schedule(row: ScheduleRow, project: str) -> Schedule:
    return Schedule(
        id=row.id, project=project, name=row.name, kind=row.kind, target=row.target, cron=row.cron,
        enabled=row.enabled, options=row.options, created_at=row.created_at, created_by=row.created_by,
        last_run_at=row.last_run_at, last_status=row.last_status, last_error=row.last_error,
        next_run_at=next_fire(row.cron) if row.enabled else None,
    )  # fmt: skip


def create_schedule(ctx: Context, *, spec: ScheduleCreate) -> Schedule:
    project = spec.project or ctx.settings.default_project
    ctx.require("pipelines:write", project)
    job_kind(spec.kind)
    cron_trigger(spec.cron)
    with ctx.db.session() as s:
        pid = project_id(s, project, create=True)
        if s.scalar(
            select(ScheduleRow.id).where(ScheduleRow.project_id == pid, ScheduleRow.name == spec.name)
        ):
            raise Conflict(
                f"schedule {spec.name!r} already exists in project {project!r}", details={"field": "name"}
            )
        row = ScheduleRow(
            id=uuid.uuid4().hex, project_id=pid, name=spec.name, kind=spec.kind, target=spec.target,
            cron=spec.cron, enabled=True, options=spec.options, created_at=now(), created_by=ctx.actor.id,
            last_error="",
        )  # fmt: skip
        s.add(row)
        s.flush()
        audit.record(
            s, ctx, "schedules.create", f"schedule:{spec.name}",
            after={"kind": spec.kind, "cron": spec.cron, "target": spec.target}, project=project,
        )  # fmt: skip
        return _schedule(row, project)


def _rows(s: Session, project: str | None) -> list[tuple[ScheduleRow, str]]:
    q = select(ScheduleRow, ProjectRow.name).join(ProjectRow, ProjectRow.id == ScheduleRow.project_id)
    if project is not None:
        q = q.where(ProjectRow.name == project)
    return [(r, p) for r, p in s.execute(q.order_by(ProjectRow.name, ScheduleRow.name)).all()]


def list_schedules(ctx: Context, *, project: str | None = None) -> ScheduleList:
    project = project or ctx.settings.default_project
    ctx.require("pipelines:read", project)
    with ctx.db.session() as s:
        return ScheduleList(items=[_schedule(r, p) for r, p in _rows(s, project)])


def all_schedules(ctx: Context) -> list[Schedule]:
    """Every enabled schedule of every project: what the server's scheduler runs (as the server)."""
    with ctx.db.session() as s:
        return [_schedule(r, p) for r, p in _rows(s, None) if r.enabled]


def get_schedule(ctx: Context, *, schedule_id: str) -> Schedule | None:
    with ctx.db.session() as s:
        found = s.execute(
            select(ScheduleRow, ProjectRow.name)
            .join(ProjectRow, ProjectRow.id == ScheduleRow.project_id)
            .where(ScheduleRow.id == schedule_id)
        ).first()
        return None if found is None else _schedule(found[0], found[1])


def delete_schedule(ctx: Context, *, name: str, project: str | None = None) -> None:
    project = project or ctx.settings.default_project
    missing = NotFound(f"schedule {name!r} not found in project {project!r}", details={"field": "name"})
    ctx.require("pipelines:write", project, missing=missing)
    with ctx.db.session() as s:
        found = [r for r, _ in _rows(s, project) if r.name == name]
        if not found:
            raise missing
        s.delete(found[0])
        s.flush()
        audit.record(
            s, ctx, "schedules.delete", f"schedule:{name}", before={"cron": found[0].cron}, project=project
        )


def record_fire(ctx: Context, *, schedule_id: str, status: str, error: str = "") -> None:
    """When it last fired and how it went: the schedule's own progress, not a change anyone made."""
    with ctx.db.session() as s:
        s.execute(
            update(ScheduleRow)
            .where(ScheduleRow.id == schedule_id)
            .values(last_run_at=now(), last_status=status, last_error=error[:4000])
        )
