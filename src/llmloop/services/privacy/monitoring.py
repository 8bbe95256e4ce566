"""What monitoring derived from traces, removed with them: by erasure of a person, and by the
retention purge of old traces.

Monitoring stores no user id of its own; it stores trace ids and texts taken from traces. So these
hooks find the traces that go (a person's, as the traces handler finds them with
``traces.subject_trace_ids``; or a project's expired ones, ``traces.expired_trace_ids``), with the
texts a monitor reads from each root span, and run while those traces still exist: before the
traces handler on erasure (``order=-1``), and on purge as kinds that follow ``traces`` (their hook
runs just before the traces one, with its project and cutoff). For an erasure a text that names
the person outright counts too, so what an earlier purge left behind is found without its trace.

- ``online_scores``: deleted; a score of a request that is gone measures nothing a monitor may count.
- ``monitor_embeddings``: the rows keyed by those texts' sha256 are deleted. It is a cache: a later window holding the same text (someone else wrote it
  too) embeds it again.
- ``monitor_results``: a result is a statistic over a window and is kept; what it quotes is
  scrubbed. Drift examples of those traces (by trace id, or by text for the topic examples, which
  carry none) read ``[erased]`` without a trace id, and ``trace_ids`` lose theirs. Statistic,
  p-value, counts and reasons stay, so a monitor's history and the alerts judged on it still agree.
- ``alerts``: their ``trace_ids`` lose the ids; the message (monitor name and figures) stays.

Before the first of these hooks changes anything, the store's generation (``monitor.epoch``) is
bumped in the same transaction: every process drops the drift reference statistics it holds in
memory, and a monitor pass or online pass that read those traces before the commit stores nothing
it derived from them (it measures again, or scores on its next pass).

Each hook returns the rows it deleted or changed. Erasure and purge share every step below; they
differ only in how ``Quoted`` is found.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, and_, delete, or_, select
from sqlalchemy.orm import Session

from llmloop.services.monitor import epoch, windows
from llmloop.services.monitor.embedding_cache import content_hash
from llmloop.services.monitor.schemas import MonitorResult
from llmloop.services.privacy.registry import Handler, register
from llmloop.services.privacy.traces import expired_trace_ids, mentions, subject_trace_ids
from llmloop.store.tables.monitoring import (
    AlertRow,
    EmbeddingRow,
    MonitorResultRow,
    MonitorRow,
    OnlineScoreRow,
)
from llmloop.store.tables.traces import SpanRow, TraceRow

if TYPE_CHECKING:
    from llmloop.context import Context

ERASED_TEXT = "[erased]"
_CHUNK = 500


@dataclass(frozen=True)
class Quoted:
    """The traces that go, as monitoring saw them: ids, texts, and per project the span of start
    times (a window or an alert can quote a trace only if it covers that trace's start). ``subject``
    is the erased person (None for a purge): a text naming them counts as theirs."""

    subject: str | None
    ids: frozenset[str]
    texts: frozenset[str]
    starts: dict[str, tuple[float, float]]  # project id -> (first, last) start time

    def names(self, text: str) -> bool:
        return text in self.texts or (self.subject is not None and self.subject in text)


def _chunks(items: Iterable[str]) -> Iterator[list[str]]:
    ordered = sorted(items)
    for i in range(0, len(ordered), _CHUNK):
        yield ordered[i : i + _CHUNK]


def quoted(session: Session, subject: str) -> Quoted:
    """Found once per erasure: the four hooks share its transaction (and the span search is a scan).
    The first finding bumps the store's generation, before any hook changes a monitoring row."""
    key = (__name__, "erase", subject)
    found = session.info.get(key)
    if not isinstance(found, Quoted):
        epoch.bump(session)
        found = session.info[key] = _find(session, subject, subject_trace_ids(session, subject))
    return found


def expired(session: Session, project_id: str, cutoff: float) -> Quoted:
    """Found once per project and cutoff of a purge, for the four hooks that run before the traces';
    the generation is bumped as for an erasure when any trace goes."""
    key = (__name__, "purge", project_id, cutoff)
    found = session.info.get(key)
    if not isinstance(found, Quoted):
        ids = expired_trace_ids(session, project_id, cutoff)
        if ids:
            epoch.bump(session)
        found = session.info[key] = _find(session, None, ids)
    return found


def _find(session: Session, subject: str | None, trace_ids: Iterable[str]) -> Quoted:
    ids = frozenset(trace_ids)
    texts: set[str] = set()
    starts: dict[str, tuple[float, float]] = {}
    for chunk in _chunks(ids):
        q = (
            select(TraceRow.project_id, TraceRow.start_time, SpanRow.attributes)
            .outerjoin(
                SpanRow, and_(SpanRow.trace_id == TraceRow.trace_id, SpanRow.span_id == TraceRow.root_span_id)
            )
            .where(TraceRow.trace_id.in_(chunk))
        )
        for pid, start, attrs in session.execute(q):
            texts.update(t for t in windows.texts(attrs or {}) if t)
            first, last = starts.get(pid, (start, start))
            starts[pid] = (min(first, start), max(last, start))
    return Quoted(subject, ids, frozenset(texts), starts)


def _count(session: Session, statement: Any) -> int:
    return int(cast("CursorResult[Any]", session.execute(statement)).rowcount or 0)


def _delete_scores(session: Session, q: Quoted) -> int:
    return sum(
        _count(session, delete(OnlineScoreRow).where(OnlineScoreRow.trace_id.in_(c))) for c in _chunks(q.ids)
    )


def erase_online_scores(ctx: Context, session: Session, subject: str) -> int:
    """Scores of the person's traces, and scores whose detail (a judge's answer) names them."""
    n = _delete_scores(session, quoted(session, subject))
    return n + _count(session, delete(OnlineScoreRow).where(mentions([OnlineScoreRow.detail], subject)))


def purge_online_scores(ctx: Context, session: Session, project_id: str, cutoff: float) -> int:
    """Scores of the traces the purge deletes: a monitor must not count requests that are gone."""
    return _delete_scores(session, expired(session, project_id, cutoff))


def _delete_embeddings(session: Session, q: Quoted) -> int:
    """Cached vectors of the texts, under every embedding model (every process's in-memory reference
    statistics went stale with the bump in ``quoted``/``expired``)."""
    hashes = {content_hash(t) for t in q.texts}
    return sum(
        _count(session, delete(EmbeddingRow).where(EmbeddingRow.content_sha256.in_(c)))
        for c in _chunks(hashes)
    )


def erase_embeddings(ctx: Context, session: Session, subject: str) -> int:
    """Cached vectors of the person's texts."""
    return _delete_embeddings(session, quoted(session, subject))


def purge_embeddings(ctx: Context, session: Session, project_id: str, cutoff: float) -> int:
    """Cached vectors of the purged traces' texts."""
    return _delete_embeddings(session, expired(session, project_id, cutoff))


def _scrubbed(result: MonitorResult, q: Quoted) -> MonitorResult:
    out = result.model_copy(deep=True)
    out.trace_ids = [t for t in out.trace_ids if t not in q.ids]
    if out.drift is not None:
        for e in out.drift.examples:
            if (e.trace_id is not None and e.trace_id in q.ids) or q.names(e.text):
                e.text, e.trace_id = ERASED_TEXT, None
        for topic in out.drift.topics:
            topic.examples = [ERASED_TEXT if q.names(t) else t for t in topic.examples]
    return out


def _scrub_results(session: Session, q: Quoted, *also: Any) -> int:
    """Scrub the quotes of ``q``'s traces from the results whose window covered them (or that match
    one of the conditions ``also``)."""
    near = [
        and_(
            MonitorRow.project_id == pid,
            MonitorResultRow.window_start <= last,
            MonitorResultRow.window_end > first,
        )
        for pid, (first, last) in q.starts.items()
    ]
    if not near and not also:
        return 0
    rows = session.scalars(
        select(MonitorResultRow)
        .join(MonitorRow, MonitorRow.id == MonitorResultRow.monitor_id)
        .where(or_(*near, *also))
    )
    changed = 0
    for row in rows:
        before = MonitorResult.model_validate(row.result)
        after = _scrubbed(before, q)
        if after != before:
            row.result = after.model_dump(mode="json")
            changed += 1
    return changed


def erase_monitor_results(ctx: Context, session: Session, subject: str) -> int:
    """Scrub the quotes of the person's traces, and any quote naming them."""
    return _scrub_results(session, quoted(session, subject), mentions([MonitorResultRow.result], subject))


def purge_monitor_results(ctx: Context, session: Session, project_id: str, cutoff: float) -> int:
    """Scrub the quotes of the purged traces: the results (statistics over windows) stay."""
    return _scrub_results(session, expired(session, project_id, cutoff))


def _scrub_alerts(session: Session, q: Quoted) -> int:
    """Drop ``q``'s trace ids from the alerts fired after any of those traces started."""
    since = [
        and_(AlertRow.project_id == pid, AlertRow.fired_at >= first) for pid, (first, _) in q.starts.items()
    ]
    if not since:
        return 0
    changed = 0
    for row in session.scalars(select(AlertRow).where(or_(*since))):
        kept = [t for t in row.trace_ids if t not in q.ids]
        if kept != list(row.trace_ids):
            row.trace_ids = kept
            changed += 1
    return changed


def erase_alert_traces(ctx: Context, session: Session, subject: str) -> int:
    return _scrub_alerts(session, quoted(session, subject))


def purge_alert_traces(ctx: Context, session: Session, project_id: str, cutoff: float) -> int:
    return _scrub_alerts(session, expired(session, project_id, cutoff))


_BEFORE_TRACES = -1  # the traces these hooks look for must still exist
_TRACES = "traces"  # purged with it, just before it
register(
    Handler(
        kind="online_scores",
        description="online-evaluation scores of traces",
        erase=erase_online_scores,
        purge=purge_online_scores,
        follows=_TRACES,
        order=_BEFORE_TRACES,
    )
)
register(
    Handler(
        kind="monitor_embeddings",
        description="cached embeddings of trace texts",
        erase=erase_embeddings,
        purge=purge_embeddings,
        follows=_TRACES,
        order=_BEFORE_TRACES,
    )
)
register(
    Handler(
        kind="monitor_results",
        description="trace ids and texts quoted by monitor results",
        erase=erase_monitor_results,
        purge=purge_monitor_results,
        follows=_TRACES,
        order=_BEFORE_TRACES,
    )
)
register(
    Handler(
        kind="alerts",
        description="trace ids quoted by alerts",
        erase=erase_alert_traces,
        purge=purge_alert_traces,
        follows=_TRACES,
        order=_BEFORE_TRACES,
    )
)
