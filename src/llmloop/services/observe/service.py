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
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from llmloop.context import Context
from llmloop.errors import Conflict, NotFound
from llmloop.refs import validate_name
from llmloop.services.observe import semconv
from llmloop.services.observe.schemas import Span, SpanData, SpanRecord, Trace, TracePage, TraceSearch
from llmloop.store import pages
from llmloop.store.projects import project_id
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.traces import SpanRow, TraceRow

log = logging.getLogger(__name__)
_S = TypeVar("_S", bound="SpanRecord | SpanData")


def _str_attr(attrs: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return _text(value[:256])
    return None


def _text(value: str) -> str:
    """A span's text as a text column can hold it: PostgreSQL refuses NUL, and a NUL in one span (an
    attacker's model name) must not lose the batch it came in. JSON columns keep it, escaped."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


# positions in a summary row, which is in _TRACE_COLUMNS order
_NAME, _ROOT, _END, _STATUS, _SPANS, _ERRORS, _MODEL, _USER, _SESSION, _IN, _OUT, _DEPLOYMENT, _TARGET = (
    2,
    3,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    15,
)
_GUARDED = 16


def _summaries(spans: list[SpanData], pids: dict[str, str]) -> list[tuple[Any, ...]]:
    """One summary row per trace (in ``_TRACE_COLUMNS`` order) from the spans of this batch that
    were not stored before. (Plain lists and inlined look-ups: this runs once per stored span.)"""
    out: dict[str, list[Any]] = {}
    decided: dict[str, bool] = {}  # trace id -> its root span set an explicit status
    model_keys = (semconv.GEN_AI_REQUEST_MODEL, semconv.GEN_AI_RESPONSE_MODEL)
    user_key, session_key = semconv.USER_ID, semconv.SESSION_ID
    in_key, out_key = semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_OUTPUT_TOKENS
    refused_key = semconv.LLMLOOP_GUARDRAIL_REFUSED
    for sp in sorted(spans, key=lambda s: s.start_time):
        a, tid, code = sp.attributes, sp.trace_id, sp.status_code
        row = out.get(tid)
        if row is None:
            row = out[tid] = [tid, pids[sp.project], _text(sp.name), None, sp.start_time, sp.end_time, "ok", 0, 0,
                              None, None, None, 0, 0, None, None, 0]  # fmt: skip
        root = sp.parent_span_id is None
        if root:
            row[_ROOT], row[_NAME] = sp.span_id, _text(sp.name)
            decided[tid] = code != "unset"
            if a:  # only the root says where the gateway routed the request (attempts name theirs too)
                row[_DEPLOYMENT] = _str_attr(a, semconv.LLMLOOP_DEPLOYMENT)
                row[_TARGET] = _str_attr(a, semconv.LLMLOOP_TARGET)
        if sp.end_time > row[_END]:
            row[_END] = sp.end_time
        row[_SPANS] += 1
        if code == "error":
            row[_ERRORS] += 1
        if (sp.events or (a and a.get(refused_key))) and sp.name.startswith(semconv.GUARDRAIL_SPAN_PREFIX):
            row[_GUARDED] += 1
        # A root that states its outcome is the trace's (a request a fallback saved is ok although an
        # attempt failed); a root that does not (OTel's "unset") leaves it to any failed span.
        if root and decided[tid]:
            row[_STATUS] = code
        elif code == "error" and not decided.get(tid):
            row[_STATUS] = "error"
        if a:
            # (each look-up only once the trace lacks it and the span has the key: most spans have neither)
            if row[_MODEL] is None:
                row[_MODEL] = _str_attr(a, *model_keys)
            if row[_USER] is None and user_key in a:
                row[_USER] = _str_attr(a, user_key)
            if row[_SESSION] is None and session_key in a:
                row[_SESSION] = _str_attr(a, session_key)
            tokens = a.get(in_key)
            if type(tokens) is int:  # not bool, which is an int too
                row[_IN] += tokens
            tokens = a.get(out_key)
            if type(tokens) is int:
                row[_OUT] += tokens
    return [tuple(row) for row in out.values()]


def _data(sp: SpanRecord | SpanData) -> SpanData:
    if isinstance(sp, SpanData):
        return sp
    return SpanData(
        sp.trace_id,
        sp.span_id,
        sp.parent_span_id,
        sp.project,
        sp.name,
        sp.kind,
        sp.start_time,
        sp.end_time,
        sp.status_code,
        sp.status_message,
        sp.attributes,
        [e.model_dump() for e in sp.events],
    )


def record_spans(ctx: Context, *, spans: Sequence[SpanRecord | SpanData]) -> int:
    """Store spans in one transaction; returns how many were new (already stored ones are skipped).

    The batched writer's sink: the tracer's ``SpanRecord``s and the rows OTLP ingest decoded
    (``SpanData``) alike. A span claiming a trace id another project owns never joins that trace:
    it is dropped and logged (OTLP ingest refuses such an export before queueing it, with
    ``refuse_foreign_traces``; this catches one that raced it).
    """
    unique = list({(s.trace_id, s.span_id): s for s in spans}.values())
    if not unique:
        return 0
    projects = sorted({s.project for s in unique})
    for name in projects:
        validate_name(name, what="project")
        ctx.require("traces:write", name)
    with ctx.db.session() as s:
        pids = {name: project_id(s, name, create=True) for name in projects}
        owners = _owners(s, unique)
        foreign = {id(sp) for sp in foreign_spans(unique, pids, owners)}
        if foreign:  # never merged into another project's trace; the rest of the batch is stored
            log.warning("dropped %d span(s) claiming trace ids another project owns", len(foreign))
            unique = [sp for sp in unique if id(sp) not in foreign]
        # a span is stored only with its trace row (one transaction; spans cascade with their trace),
        # so only traces stored before can hold spans of this batch already
        stored = _stored_keys(s, sorted(t for t in {sp.trace_id for sp in unique} if t in owners))
        new = [_data(sp) for sp in unique if (sp.trace_id, sp.span_id) not in stored]
        if not new:
            return 0
        conn = s.connection()
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(_INSERT_SPANS.replace("?", mark), [_span_params(sp) for sp in new])
        conn.exec_driver_sql(_UPSERT_TRACE.replace("?", mark), _summaries(new, pids))
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
_TRACE_COLUMNS = (
    "trace_id",
    "project_id",
    "name",
    "root_span_id",
    "start_time",
    "end_time",
    "status",
    "span_count",
    "error_count",
    "model",
    "user_id",
    "session_id",
    "input_tokens",
    "output_tokens",
    "deployment",
    "target",
    "guardrail_hits",
)
# Straight to the driver (SQLite and PostgreSQL read the same SQL; ``?`` becomes the driver's mark):
# the spans table is the hot path of tracing, and SQLAlchemy's per-row parameter processing and
# statement compiling cost more than the database's own work. JSON columns get their text here
# (SQLite stores it as is; PostgreSQL casts the untyped parameter to json).
_INSERT_SPANS = (
    f"INSERT INTO {SpanRow.__tablename__} ({', '.join(_SPAN_COLUMNS)}) "
    f"VALUES ({', '.join(['?'] * len(_SPAN_COLUMNS))}) ON CONFLICT (trace_id, span_id) DO NOTHING"
)
# Folds a batch's summary into the stored one with SQL expressions, so writers in several processes
# never lose each other's counts; never into a trace of another project (the WHERE).
_UPSERT_TRACE = f"""INSERT INTO traces ({", ".join(_TRACE_COLUMNS)}) VALUES ({", ".join(["?"] * len(_TRACE_COLUMNS))})
ON CONFLICT (trace_id) DO UPDATE SET
 start_time = CASE WHEN excluded.start_time < traces.start_time THEN excluded.start_time ELSE traces.start_time END,
 end_time = CASE WHEN excluded.end_time > traces.end_time THEN excluded.end_time ELSE traces.end_time END,
 span_count = traces.span_count + excluded.span_count,
 error_count = traces.error_count + excluded.error_count,
 status = CASE WHEN excluded.root_span_id IS NOT NULL THEN excluded.status
  WHEN traces.root_span_id IS NOT NULL THEN traces.status
  WHEN excluded.status = 'error' THEN 'error' ELSE traces.status END,
 root_span_id = COALESCE(excluded.root_span_id, traces.root_span_id),
 name = CASE WHEN excluded.root_span_id IS NOT NULL THEN excluded.name ELSE traces.name END,
 model = CASE WHEN excluded.root_span_id IS NOT NULL AND excluded.model IS NOT NULL THEN excluded.model
  ELSE COALESCE(traces.model, excluded.model) END,
 user_id = COALESCE(traces.user_id, excluded.user_id),
 session_id = COALESCE(traces.session_id, excluded.session_id),
 input_tokens = traces.input_tokens + excluded.input_tokens,
 output_tokens = traces.output_tokens + excluded.output_tokens,
 deployment = COALESCE(excluded.deployment, traces.deployment),
 target = COALESCE(excluded.target, traces.target),
 guardrail_hits = traces.guardrail_hits + excluded.guardrail_hits
WHERE traces.project_id = excluded.project_id"""
# (the root span names the trace's model when it carries one, even if its children, say a gateway's
# upstream call with the upstream's model name, were stored first)
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def _c_dumps() -> Any:
    """``_dumps`` without its per-call setup: ``JSONEncoder.encode`` builds a fresh C encoder on every
    call, which cost a third of encoding a span's attributes; this one is built once, with the same
    arguments ``encode`` passes it (so the text is the same), except the circular-reference check,
    which the values a span can hold (scalars, lists, and trees decoded from OTLP) never need."""
    make = getattr(json.encoder, "c_make_encoder", None)
    basestring = getattr(json.encoder, "c_encode_basestring", None)
    if make is None or basestring is None:  # no C accelerator (PyPy): the plain encoder
        return _dumps
    encode = make(None, str, basestring, None, ":", ",", False, False, True)
    join = "".join

    def dumps(value: Any) -> str:
        return join(encode(value, 0))

    return dumps


_fast_dumps = _c_dumps()


def _span_params(sp: SpanData) -> tuple[Any, ...]:
    return (
        sp.trace_id,
        sp.span_id,
        sp.parent_span_id,
        _text(sp.name[:256]),
        sp.kind,
        sp.start_time,
        sp.end_time,
        sp.status_code,
        _text(sp.status_message) if sp.status_message else sp.status_message,
        _fast_dumps(sp.attributes),
        _fast_dumps(sp.events) if sp.events else "[]",
    )


def _lookup(session: Session, sql: str, trace_ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (its ``{ids}`` a list of marks) for these trace ids, 500 at a time; raw SQL like
    the inserts, since building a fresh IN statement per batch cost SQLAlchemy more than the query."""
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(trace_ids), 500):
        chunk = tuple(trace_ids[i : i + 500])
        rows += [
            tuple(r) for r in conn.exec_driver_sql(sql.format(ids=", ".join([mark] * len(chunk))), chunk)
        ]
    return rows


def _owners(session: Session, spans: Sequence[SpanRecord | SpanData]) -> dict[str, str]:
    """The project id that owns each of these spans' trace ids, for those stored already."""
    ids = sorted({sp.trace_id for sp in spans})
    return dict(_lookup(session, "SELECT trace_id, project_id FROM traces WHERE trace_id IN ({ids})", ids))


def foreign_spans(spans: Sequence[_S], pids: dict[str, str], owners: dict[str, str]) -> list[_S]:
    """The spans that claim a trace id for a project that does not own it.

    A trace id belongs to the project that stored it first (``owners``, from ``_owners``) or,
    new in this batch, that the batch's first span of it claims; spans claiming it for another
    project would append to that trace and rewrite its status.
    """
    owners = dict(owners)
    return [sp for sp in spans if owners.setdefault(sp.trace_id, pids[sp.project]) != pids[sp.project]]


def _conflict(trace_id: str) -> Conflict:
    return Conflict(
        f"trace id {trace_id!r} is already used by another project; send new trace ids",
        details={"trace_id": trace_id},
    )


_OWNER_NAMES = (
    "SELECT t.trace_id, p.name FROM traces t LEFT JOIN projects p ON p.id = t.project_id"
    " WHERE t.trace_id IN ({ids})"
)


def refuse_foreign_traces(ctx: Context, *, spans: Sequence[SpanRecord | SpanData]) -> None:
    """``Conflict`` when any span claims a trace id another project owns: for ingest doors that
    answer their caller before the batched writer stores the spans (OTLP over HTTP).

    The answer names the caller's trace id, never the owning project. (Trace ids are 128 random
    bits: learning that one is taken tells nothing a caller did not already hold.)
    """
    ids = sorted({sp.trace_id for sp in spans})
    with ctx.db.session() as s:
        # each stored trace id with its owner's name, in one look-up (NULL never matches a project's name)
        owners = dict(_lookup(s, _OWNER_NAMES, ids))
    # names stand for the projects: a project not created yet owns no trace, so any stored id is another's
    foreign = foreign_spans(list(spans), {sp.project: sp.project for sp in spans}, owners)
    if foreign:
        raise _conflict(foreign[0].trace_id)


def _stored_keys(session: Session, trace_ids: list[str]) -> set[tuple[str, str]]:
    """Which spans of these traces are stored already (a retried batch, a re-sent OTLP export)."""
    sql = "SELECT trace_id, span_id FROM spans WHERE trace_id IN ({ids})"
    return {(t, sid) for t, sid in _lookup(session, sql, trace_ids)}


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
        deployment=row.deployment,
        target=row.target,
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


def readable_trace(ctx: Context, s: Session, trace_id: str) -> tuple[TraceRow, str]:
    """The trace's row and project name, if the caller may read it; NotFound alike when it does not
    exist and when it is another project's, so neither answer tells the other."""
    found = s.execute(
        select(TraceRow, ProjectRow.name)
        .join(ProjectRow, ProjectRow.id == TraceRow.project_id)
        .where(TraceRow.trace_id == trace_id)
    ).first()
    missing = NotFound(f"trace {trace_id!r} not found", details={"trace_id": trace_id})
    if found is None:
        raise missing
    ctx.require("traces:read", found[1], missing=missing)
    return found[0], found[1]


def get_trace(ctx: Context, *, trace_id: str, spans: bool = True) -> Trace:
    """A trace with all its spans, oldest first; with ``spans=False`` only its root span, for a
    summary (an agent's trace of 30,000 spans takes seconds to read whole)."""
    with ctx.db.session() as s:
        row, project = readable_trace(ctx, s, trace_id)
        which = [SpanRow.trace_id == trace_id]
        if not spans:
            which.append(SpanRow.span_id == row.root_span_id)
        found_spans = [
            _span(sp)
            for sp in s.scalars(select(SpanRow).where(*which).order_by(SpanRow.start_time, SpanRow.span_id))
        ]
        return _trace(row, project, found_spans)


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
