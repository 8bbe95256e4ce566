"""Tracing service: store spans in batches, read traces back.

``record_spans`` is the one write path (the batched writer and, later, OTLP ingest call it).
It looks up which of a batch's spans are stored already, inserts the others (skipping any that
another writer stored meanwhile), and folds them into each trace's summary row with SQL
expressions, so a retried batch is a no-op and writers in several processes never lose each
other's counts. (Two writers storing the *same* span at the same instant could count it twice
in the summary; the span itself is stored once.)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from llmloop.context import Context
from llmloop.errors import Conflict, NotFound
from llmloop.refs import validate_name
from llmloop.services.observe import semconv
from llmloop.services.observe.schemas import Span, SpanRecord, Trace, TracePage, TraceSearch
from llmloop.store import pages
from llmloop.store.projects import project_id
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.traces import SpanRow, TraceRow

log = logging.getLogger(__name__)


def _dialect_insert(session: Session, table: Any) -> Any:
    name = session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


def _int_attr(attrs: dict[str, Any], key: str) -> int:
    value = attrs.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str_attr(attrs: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value[:256]
    return None


def _summaries(spans: list[SpanRecord], pids: dict[str, str]) -> list[dict[str, Any]]:
    """One summary row per trace from the spans of this batch that were not stored before."""
    out: dict[str, dict[str, Any]] = {}
    decided: dict[str, bool] = {}  # trace id -> its root span set an explicit status
    for sp in sorted(spans, key=lambda s: s.start_time):
        a = sp.attributes
        row = out.get(sp.trace_id)
        if row is None:
            row = out[sp.trace_id] = {
                "trace_id": sp.trace_id,
                "project_id": pids[sp.project],
                "name": sp.name,
                "root_span_id": None,
                "start_time": sp.start_time,
                "end_time": sp.end_time,
                "status": "ok",
                "span_count": 0,
                "error_count": 0,
                "model": None,
                "user_id": None,
                "session_id": None,
                "input_tokens": 0,
                "output_tokens": 0,
            }
        if sp.parent_span_id is None:
            row["root_span_id"], row["name"] = sp.span_id, sp.name
            decided[sp.trace_id] = sp.status_code != "unset"
        row["end_time"] = max(row["end_time"], sp.end_time)
        row["span_count"] += 1
        if sp.status_code == "error":
            row["error_count"] += 1
        # A root that states its outcome is the trace's (a request a fallback saved is ok although an
        # attempt failed); a root that does not (OTel's "unset") leaves it to any failed span.
        if sp.parent_span_id is None and decided[sp.trace_id]:
            row["status"] = sp.status_code
        elif sp.status_code == "error" and not decided.get(sp.trace_id):
            row["status"] = "error"
        row["model"] = row["model"] or _str_attr(
            a, semconv.GEN_AI_REQUEST_MODEL, semconv.GEN_AI_RESPONSE_MODEL
        )
        row["user_id"] = row["user_id"] or _str_attr(a, semconv.USER_ID)
        row["session_id"] = row["session_id"] or _str_attr(a, semconv.SESSION_ID)
        row["input_tokens"] += _int_attr(a, semconv.GEN_AI_USAGE_INPUT_TOKENS)
        row["output_tokens"] += _int_attr(a, semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
    return list(out.values())


def record_spans(ctx: Context, *, spans: Sequence[SpanRecord]) -> int:
    """Store finished spans in one transaction; returns how many were new (already stored ones are skipped)."""
    unique = list({(s.trace_id, s.span_id): s for s in spans}.values())
    if not unique:
        return 0
    projects = sorted({s.project for s in unique})
    for name in projects:
        validate_name(name, what="project")
        ctx.require("traces:write", name)
    with ctx.db.session() as s:
        pids = {name: project_id(s, name, create=True) for name in projects}
        foreign = {id(sp) for sp in foreign_spans(s, unique, pids)}
        if foreign:  # never merged into another project's trace; the rest of the batch is stored
            log.warning("dropped %d span(s) claiming trace ids another project owns", len(foreign))
            unique = [sp for sp in unique if id(sp) not in foreign]
        stored = _stored_keys(s, unique)
        new = [sp for sp in unique if (sp.trace_id, sp.span_id) not in stored]
        if not new:
            return 0
        _insert_spans(s, new)
        traces = TraceRow.__table__
        ins = _dialect_insert(s, traces)
        x, t = ins.excluded, traces.c
        s.execute(
            ins.on_conflict_do_update(
                index_elements=[t.trace_id],
                set_={
                    "start_time": case((x.start_time < t.start_time, x.start_time), else_=t.start_time),
                    "end_time": case((x.end_time > t.end_time, x.end_time), else_=t.end_time),
                    "span_count": t.span_count + x.span_count,
                    "error_count": t.error_count + x.error_count,
                    "status": case(
                        (x.root_span_id.is_not(None), x.status),
                        (t.root_span_id.is_not(None), t.status),
                        (x.status == "error", "error"),
                        else_=t.status,
                    ),
                    "root_span_id": func.coalesce(x.root_span_id, t.root_span_id),
                    "name": case((x.root_span_id.is_not(None), x.name), else_=t.name),
                    # the root span names the trace's model when it carries one, even if its children
                    # (say a gateway's upstream call, with the upstream's model name) were stored first
                    "model": case(
                        (x.root_span_id.is_not(None) & x.model.is_not(None), x.model),
                        else_=func.coalesce(t.model, x.model),
                    ),
                    "user_id": func.coalesce(t.user_id, x.user_id),
                    "session_id": func.coalesce(t.session_id, x.session_id),
                    "input_tokens": t.input_tokens + x.input_tokens,
                    "output_tokens": t.output_tokens + x.output_tokens,
                },
                where=t.project_id == x.project_id,
            ),
            _summaries(new, pids),
        )
        return len(new)


_SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "start_time",
    "end_time",
    "status_code",
    "status_message",
    "attributes",
    "events",
)


def _insert_spans(session: Session, spans: list[SpanRecord]) -> None:
    """One executemany straight to the driver: the spans table is the hot path of tracing, and
    SQLAlchemy's per-row parameter processing cost more than SQLite's own work. JSON columns get
    their text here (SQLite stores it as is; PostgreSQL casts the untyped parameter to json)."""
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    table = SpanRow.__tablename__
    sql = (
        f"INSERT INTO {table} ({', '.join(_SPAN_COLUMNS)}) VALUES ({', '.join([mark] * len(_SPAN_COLUMNS))}) "
        "ON CONFLICT (trace_id, span_id) DO NOTHING"
    )
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
    conn.exec_driver_sql(
        sql,
        [
            (
                sp.trace_id,
                sp.span_id,
                sp.parent_span_id,
                sp.name[:256],
                sp.kind,
                sp.start_time,
                sp.end_time,
                sp.status_code,
                sp.status_message,
                dumps(sp.attributes),
                dumps([e.model_dump() for e in sp.events]) if sp.events else "[]",
            )
            for sp in spans
        ],
    )


def foreign_spans(session: Session, spans: Sequence[SpanRecord], pids: dict[str, str]) -> list[SpanRecord]:
    """The spans that claim a trace id for a project that does not own it.

    A trace id belongs to the project that stored it first (or, new in this batch, that the
    batch's first span of it claims); spans claiming it for another project would append to
    that trace and rewrite its status.
    """
    ids = sorted({sp.trace_id for sp in spans})
    owners: dict[str, str] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        owners.update(
            (t, pid)
            for t, pid in session.execute(
                select(TraceRow.trace_id, TraceRow.project_id).where(TraceRow.trace_id.in_(chunk))
            )
        )
    return [sp for sp in spans if owners.setdefault(sp.trace_id, pids[sp.project]) != pids[sp.project]]


def refuse_foreign_traces(ctx: Context, *, spans: Sequence[SpanRecord]) -> None:
    """``Conflict`` when any span claims a trace id another project owns: for ingest doors that
    answer their caller before the batched writer stores the spans (OTLP over HTTP).

    The answer names the caller's trace id, never the owning project. (Trace ids are 128 random
    bits: learning that one is taken tells nothing a caller did not already hold.)
    """
    names = sorted({sp.project for sp in spans})
    with ctx.db.session() as s:
        rows = s.execute(select(ProjectRow.name, ProjectRow.id).where(ProjectRow.name.in_(names)))
        found: dict[str, str] = {name: pid for name, pid in rows}
        # a project not created yet owns no trace: any stored trace id is another project's
        pids = {name: found.get(name, f"new:{name}") for name in names}
        foreign = foreign_spans(s, spans, pids)
    if foreign:
        first = foreign[0].trace_id
        raise Conflict(
            f"trace id {first!r} is already used by another project; send new trace ids",
            details={"trace_id": first},
        )


def _stored_keys(session: Session, spans: list[SpanRecord]) -> set[tuple[str, str]]:
    """Which of these spans are stored already (a retried batch, a re-sent OTLP export)."""
    trace_ids = sorted({sp.trace_id for sp in spans})
    found: set[tuple[str, str]] = set()
    for i in range(0, len(trace_ids), 500):
        chunk = trace_ids[i : i + 500]
        found.update(
            (t, sid)
            for t, sid in session.execute(
                select(SpanRow.trace_id, SpanRow.span_id).where(SpanRow.trace_id.in_(chunk))
            )
        )
    return found


def _trace(row: TraceRow, project: str, spans: list[Span] | None = None) -> Trace:
    return Trace(
        trace_id=row.trace_id,
        project=project,
        name=row.name,
        root_span_id=row.root_span_id,
        start_time=row.start_time,
        end_time=row.end_time,
        status="error" if row.status == "error" else "ok",
        span_count=row.span_count,
        error_count=row.error_count,
        model=row.model,
        user_id=row.user_id,
        session_id=row.session_id,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        duration_ms=(row.end_time - row.start_time) * 1000.0,
        spans=spans or [],
    )


def _span(row: SpanRow) -> Span:
    return Span(
        trace_id=row.trace_id,
        span_id=row.span_id,
        parent_span_id=row.parent_span_id,
        name=row.name,
        kind=row.kind,
        start_time=row.start_time,
        end_time=row.end_time,
        status_code=row.status_code,
        status_message=row.status_message,
        attributes=row.attributes or {},
        events=row.events or [],
        duration_ms=(row.end_time - row.start_time) * 1000.0,
    )


def get_trace(ctx: Context, *, trace_id: str) -> Trace:
    """A trace with all its spans, oldest first."""
    with ctx.db.session() as s:
        found = s.execute(
            select(TraceRow, ProjectRow.name)
            .join(ProjectRow, ProjectRow.id == TraceRow.project_id)
            .where(TraceRow.trace_id == trace_id)
        ).first()
        missing = NotFound(f"trace {trace_id!r} not found", details={"trace_id": trace_id})
        if found is None:
            raise missing
        row, project = found
        ctx.require("traces:read", project, missing=missing)
        spans = [
            _span(sp)
            for sp in s.scalars(
                select(SpanRow)
                .where(SpanRow.trace_id == trace_id)
                .order_by(SpanRow.start_time, SpanRow.span_id)
            )
        ]
        return _trace(row, project, spans)


def list_traces(ctx: Context, *, query: TraceSearch) -> TracePage:
    """Traces newest first, filtered by project, time, model, user, session, status and latency.

    Pages by keyset on (start time, trace id), so a page deep in a busy project costs what the
    first one does.
    """
    cursor = pages.decode(query.page_token, "traces", key_types=(float, str))
    order = [(TraceRow.start_time, True), (TraceRow.trace_id, False)]
    where: list[Any] = [] if cursor.after is None else [pages.seek(order, cursor.after)]
    with ctx.db.session() as s:
        names = {pid: name for pid, name in s.execute(select(ProjectRow.id, ProjectRow.name))}
        if query.project is not None:
            pid = project_id(s, query.project)
            ctx.require("traces:read", query.project)
            where.append(TraceRow.project_id == pid)
        else:
            readable = [pid for pid, name in names.items() if ctx.actor.can("traces:read", name)]
            where.append(TraceRow.project_id.in_(readable))
        if query.since is not None:
            where.append(TraceRow.start_time >= query.since)
        if query.until is not None:
            where.append(TraceRow.start_time < query.until)
        for column, value in (
            (TraceRow.model, query.model),
            (TraceRow.user_id, query.user_id),
            (TraceRow.session_id, query.session_id),
            (TraceRow.status, query.status),
        ):
            if value is not None:
                where.append(column == value)
        if query.min_duration_ms is not None:
            where.append((TraceRow.end_time - TraceRow.start_time) * 1000.0 >= query.min_duration_ms)
        rows = list(
            s.scalars(
                select(TraceRow)
                .where(*where)
                .order_by(TraceRow.start_time.desc(), TraceRow.trace_id)
                .limit(query.limit + 1)
            )
        )
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        items = [_trace(r, names[r.project_id]) for r in rows]
    token = pages.encode("traces", after=(rows[-1].start_time, rows[-1].trace_id)) if more else None
    return TracePage(items=items, next_page_token=token)
