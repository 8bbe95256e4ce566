"""The tamper-evident audit log: every mutation appends one hash-chained row in the caller's transaction.

Each row stores ``prev_hash`` (the hash of the row before) and ``hash``, the sha256 of the
canonical JSON of its own fields and ``prev_hash``. Editing a row changes its hash; deleting
one breaks the ``seq`` run and the link of the next row; cutting rows off the end no longer
matches the ``audit_head`` row. ``verify_chain`` walks the chain and names the first bad row.

Appends are serialised on the head row: ``UPDATE audit_head ... RETURNING`` takes a row lock
on PostgreSQL and the database write lock on SQLite, so concurrent writers extend one chain
instead of forking it. The lock is held until the caller commits, so services record the
event as the last statement of their transaction.

The actor's name is outside the hash but bound by ``actor_digest`` (sha256 of a per-row salt
and the name): a privacy erasure may replace the name by ``erased:…`` without breaking the
chain, while any other edit of it is still detected.

Every mutation is audited, enforced in one place: the commit. Each statement a transaction
runs is matched against ``AUDITED`` (the tables that hold what people create and change:
deployments, prompts, evaluations, models, datasets, runs, keys, users, secrets, ...); a
commit that wrote to one of them without appending an audit event is refused
(``UnauditedMutation``) and rolled back, whichever door, service or raw SQL it came from. The
hot paths that write per metric, per span or per request (metrics, traces, a key's
``last_used_at``) touch no audited table or say why with ``exempt``.

Limits: the chain proves integrity against edits made without recomputing every later hash.
Someone with write access to the database who rewrites the whole tail is caught only by
comparing the head (``llmloop audit verify`` prints it) with a copy kept elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Engine, Table, bindparam, event, insert, select, update
from sqlalchemy.orm import Session

from llmloop.errors import InvalidInput, LlmloopError
from llmloop.security.schemas import AuditEvent, AuditVerifyReport
from llmloop.store.tables.base import now
from llmloop.store.tables.security import AuditEventRow, AuditHeadRow

if TYPE_CHECKING:
    from llmloop.context import Context

GENESIS = "0" * 64
ERASED = "erased:"
_HEAD = cast(Table, AuditHeadRow.__table__)
_EVENTS = cast(Table, AuditEventRow.__table__)
# built once: their compiled form and cache key are reused by every append
_BUMP_HEAD = (
    update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + 1).returning(_HEAD.c.seq, _HEAD.c.hash)
)
_INSERT_EVENT = insert(_EVENTS)
_SET_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(hash=bindparam("new_hash"))
_HASHED = (
    "seq",
    "ts",
    "actor_digest",
    "actor_kind",
    "via",
    "action",
    "target",
    "project",
    "before",
    "after",
    "salt",
    "prev_hash",
)


_ALL = frozenset({"INSERT", "UPDATE", "DELETE"})
_CREATE_DELETE = frozenset({"INSERT", "DELETE"})
# table -> the statements on it that must come with an audit event in the same transaction.
# Not here: per-metric/per-span/per-request rows (metrics, params, tags, traces, spans, sessions),
# rows written only beside an audited one (lineage, evaluation examples, artifacts), the audit tables.
AUDITED: dict[str, frozenset[str]] = {
    "deployments": _ALL,
    "deployment_revisions": _ALL,
    "prompts": _ALL,
    "prompt_versions": _ALL,
    "aliases": _ALL,
    "evaluations": _CREATE_DELETE,  # its progress and result are its own
    "datasets": _ALL,
    "dataset_versions": _ALL,
    "models": _ALL,
    "model_versions": _ALL,
    "model_alias_events": _ALL,
    "model_alias_protections": _ALL,
    "runs": _CREATE_DELETE,  # a run's status and logging are its own; creating and ending it are audited
    "train_sweeps": _ALL,
    "pipeline_runs": _CREATE_DELETE,  # its steps' progress is its own; starting and deleting it are audited
    "schedules": _CREATE_DELETE,  # when it last fired is its own progress
    "feedback": _ALL,
    "users": _ALL,
    "role_bindings": _ALL,
    "api_keys": _ALL,
    "secrets": _ALL,
    # monitoring: definitions people write; alert rules are also updated by every monitor pass (the
    # time their condition started holding), so their creation, change, silence are audited by the service
    "monitors": _ALL,
    "monitor_triggers": _ALL,
    "online_evaluators": _ALL,  # online scores are written by the pass, which audits each pass that scored
}
_WRITE = re.compile(r'^\s*(INSERT|UPDATE|DELETE)\s+(?:OR\s+\w+\s+)?(?:INTO\s+|FROM\s+)?"?(\w+)"?', re.I)
_PENDING, _AUDITED, _EXEMPT = "llmloop_unaudited", "llmloop_audited", "llmloop_audit_exempt"


class UnauditedMutation(LlmloopError):
    """A transaction changed an audited table without an audit event: a bug in the code that wrote."""


def exempt(session: Session | Connection, why: str) -> None:
    """Let this transaction write audited tables without an event; ``why`` says why it is no mutation
    anyone needs to answer for (a key's last-used time). Use sparingly: it is the only way past."""
    conn = session.connection() if isinstance(session, Session) else session
    conn.info[_EXEMPT] = why


@event.listens_for(Engine, "before_cursor_execute")
def _note_write(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    m = _WRITE.match(statement)
    if m is None:
        return
    verb, table = m.group(1).upper(), m.group(2).lower()
    if table == "audit_events" and verb == "INSERT":
        conn.info[_AUDITED] = True
    elif verb in AUDITED.get(table, ()):
        conn.info.setdefault(_PENDING, set()).add(f"{verb} {table}")


@event.listens_for(Engine, "begin")
@event.listens_for(Engine, "rollback")
def _forget(conn: Connection) -> None:
    for key in (_PENDING, _AUDITED, _EXEMPT):
        conn.info.pop(key, None)


@event.listens_for(Engine, "commit")
def _refuse_unaudited(conn: Connection) -> None:
    pending, audited, exempted = (conn.info.pop(k, None) for k in (_PENDING, _AUDITED, _EXEMPT))
    if pending and not audited and not exempted:
        raise UnauditedMutation(
            f"refused to commit {', '.join(sorted(pending))} without an audit event: every mutation "
            "must call llmloop.security.audit.record in its transaction"
        )


def _clean(value: Any) -> Any:
    """JSON-safe and canonical: non-finite floats become strings, tuples lists, keys strings."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def canonical_json(fields: dict[str, Any]) -> bytes:
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def actor_digest(salt: str, actor: str) -> str:
    return hashlib.sha256(f"{salt}\x00{actor}".encode()).hexdigest()


def event_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json({k: fields[k] for k in _HASHED})).hexdigest()


def record(
    session: Session | Connection,
    ctx: Context,
    action: str,
    target: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    *,
    project: str | None = None,
) -> int:
    """Append one event to the chain inside the caller's transaction; returns its ``seq``.

    Call it as the last statement of the mutation: it locks the chain head until commit.
    """
    actor = ctx.actor
    conn = session.connection() if isinstance(session, Session) else session  # Core: no ORM overhead
    seq, prev_hash = conn.execute(_BUMP_HEAD).one()
    salt = secrets.token_hex(16)
    fields: dict[str, Any] = {
        "seq": int(seq),
        "ts": now(),
        "actor": actor.id[:128],
        "actor_digest": actor_digest(salt, actor.id[:128]),
        "actor_kind": actor.kind[:32],
        "via": actor.via[:256],
        "action": action[:64],
        "target": target[:256],
        "project": project[:128] if project else None,
        "before": _clean(before) if before is not None else None,
        "after": _clean(after) if after is not None else None,
        "salt": salt,
        "prev_hash": prev_hash,
    }
    fields["hash"] = event_hash(fields)
    conn.execute(_INSERT_EVENT, fields)
    conn.execute(_SET_HEAD, {"new_hash": fields["hash"]})
    return int(seq)


def _row_fields(row: Any) -> dict[str, Any]:
    return {c: getattr(row, c) for c in (*_HASHED, "actor", "hash")}


def check_chain(rows: Sequence[Any] | Any, head_seq: int, head_hash: str) -> AuditVerifyReport:
    """Walk rows in ``seq`` order; the first row that does not fit is reported, never raised."""
    expected, prev, checked = 1, GENESIS, 0
    for row in rows:
        f = _row_fields(row)
        if f["seq"] != expected:
            return _bad(checked, expected, f"row {expected} is missing (deleted), next row is {f['seq']}")
        if f["prev_hash"] != prev:
            return _bad(checked, expected, f"row {expected} does not link to row {expected - 1}")
        if event_hash(f) != f["hash"]:
            return _bad(
                checked, expected, f"row {expected} was modified: its content no longer matches its hash"
            )
        if (
            not str(f["actor"]).startswith(ERASED)
            and actor_digest(f["salt"], f["actor"]) != f["actor_digest"]
        ):
            return _bad(checked, expected, f"row {expected} was modified: its actor no longer matches")
        prev, expected, checked = f["hash"], expected + 1, checked + 1
    if head_seq != checked:
        if head_seq > checked:
            return _bad(
                checked, checked + 1, f"rows {checked + 1}..{head_seq} are missing (cut from the end)"
            )
        return _bad(checked, head_seq + 1, f"row {head_seq + 1} is beyond the chain head ({head_seq})")
    if head_hash != prev:
        return _bad(checked, head_seq, f"the chain head does not match row {head_seq}")
    return AuditVerifyReport(ok=True, checked=checked, head_seq=head_seq, head_hash=head_hash)


def _bad(checked: int, seq: int, reason: str) -> AuditVerifyReport:
    return AuditVerifyReport(ok=False, checked=checked, first_bad_seq=seq, reason=reason)


def verify_chain(ctx: Context) -> AuditVerifyReport:
    """Re-hash the whole chain (streamed); damage is a result (``ok=False``), not an exception."""
    ctx.require("audit:read", "*")
    with ctx.db.connect() as conn:
        head = conn.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).one_or_none()
        if head is None:
            return _bad(0, 0, "the chain head row is missing")
        rows = conn.execution_options(yield_per=1000).execute(select(_EVENTS).order_by(_EVENTS.c.seq))
        return check_chain(rows, int(head.seq), str(head.hash))


def list_events(
    ctx: Context,
    *,
    actor: str | None = None,
    action: str | None = None,
    project: str | None = None,
    since: float | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Newest first. ``action`` ending in ``*`` matches a prefix (``runs.*``)."""
    if not 1 <= limit <= 10000:
        raise InvalidInput(f"limit must be 1 to 10000, not {limit}", details={"field": "limit"})
    ctx.require("audit:read", project or "*")
    stmt = select(AuditEventRow).order_by(AuditEventRow.seq.desc()).limit(limit)
    if actor is not None:
        stmt = stmt.where(AuditEventRow.actor == actor)
    if action is not None:
        if action.endswith("*"):
            prefix = action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(AuditEventRow.action.like(f"{prefix}%", escape="\\"))
        else:
            stmt = stmt.where(AuditEventRow.action == action)
    if project is not None:
        stmt = stmt.where(AuditEventRow.project == project)
    if since is not None:
        stmt = stmt.where(AuditEventRow.ts >= since)
    with ctx.db.session() as s:
        return [AuditEvent.model_validate(r) for r in s.scalars(stmt)]


def erase_actor(session: Session | Connection, actor: str) -> int:
    """Blank ``actor`` in every event (privacy erasure) without breaking the chain."""
    rows = session.execute(
        select(_EVENTS.c.seq, _EVENTS.c.actor_digest).where(_EVENTS.c.actor == actor)
    ).all()
    for seq, digest in rows:
        session.execute(update(_EVENTS).where(_EVENTS.c.seq == seq).values(actor=f"{ERASED}{digest[:16]}"))
    return len(rows)
