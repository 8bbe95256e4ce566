"""A trace's span tree a page at a time, paged in SQL: a page costs what its rows cost, not the trace.

The tree is depth first from the top-level spans (no parent, or a parent that was never stored),
children by (start time, span id). Reading the whole trace to lay it out took seconds for an
agent's 30,000 spans (issue 16); instead a page walks the tree through the
``ix_spans_trace_parent`` index (trace, parent, start time, span id):

* the walk reads light rows (id, start time, whether it has children) of one sibling list at a
  time, keyset on (start time, span id), and descends only into spans that have children;
* the page's spans are then read whole in one query, with their child counts from the index;
* where the page stops, each sibling list it did not finish becomes a ``SpanTreeMore`` with a page
  token (whose children, at what depth, after which child). Loading it gives that list's remaining
  spans with their subtrees, and its own ``more`` for what it in turn did not reach; so loading
  every ``more`` in its place yields the whole tree exactly once, and spans stored meanwhile show up
  where they belong (the keyset never skips or repeats a sibling).

Top-level spans include orphans (their parent was lost or is still on its way). Whether a trace has
any is one pass over its distinct parent ids in the index, the one part that grows with the trace
(a few ms at 30,000 spans), and only a page of the top level asks. Without orphans the top level is
one index range (parent IS NULL); with them, the trace's spans in start order each checked for a
stored parent, a read that stops once the page has its rows.

The queries are the same on SQLite and PostgreSQL; row-value keyset comparisons and the index's own
order in subqueries keep both planners on the index (see ``_CHILDREN``).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from llmloop.context import Context
from llmloop.errors import InvalidInput, NotFound
from llmloop.services.observe.schemas import Span, SpanTreeMore, SpanTreePage, SpanTreeRow
from llmloop.services.observe.service import readable_trace
from llmloop.store import pages

LISTING = "span tree"
MAX_LIMIT = 1000
MAX_DEPTH = 10_000  # a parent chain longer than this is taken for a cycle (spans naming each other)
_TOKEN_KEY = (str, int, float, str)  # parent span id ("" for the top level), depth, after (start, span id)
_CHUNK = 500  # ids per IN list

Key = tuple[float, str]  # a sibling's place: (start time, span id)
Light = tuple[str, float, bool]  # span id, start time, has children


def span_tree(
    ctx: Context,
    *,
    trace_id: str,
    parent_span_id: str | None = None,
    page_token: str | None = None,
    limit: int = 500,
) -> SpanTreePage:
    """``limit`` rows of the trace's span tree, depth first, and what follows them (``more``).

    With neither ``parent_span_id`` nor ``page_token``: the tree from its top-level spans. With
    ``parent_span_id``: that span's children and their subtrees (expand a node). With a
    ``page_token`` from a ``more``: the rest of that sibling list. A trace of a project the caller
    has no role in is ``NotFound``, as if it did not exist.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be 1 to {MAX_LIMIT}, got {limit}", details={"field": "limit"})
    if page_token and parent_span_id:
        raise InvalidInput(
            "give parent_span_id or page_token, not both (a page token already names its parent)",
            details={"field": "parent_span_id"},
        )
    with ctx.db.session() as s:
        readable_trace(ctx, s, trace_id)
        walk = _Walk(s, trace_id)
        if page_token:
            parent, depth, after = _decode(page_token)
        elif parent_span_id:
            parent, depth, after = parent_span_id, walk.depth_below(parent_span_id), None
        else:
            parent, depth, after = None, 0, None
        order, stack = walk.run(_Frame(parent, depth, after), limit)
        rows = walk.rows(order)
        more = [m for m in (walk.more(f) for f in reversed(stack)) if m is not None]
    return SpanTreePage(trace_id=trace_id, rows=rows, more=more)


def _decode(token: str) -> tuple[str | None, int, Key | None]:
    cursor = pages.decode(token, LISTING, key_types=_TOKEN_KEY)
    assert cursor.after is not None  # keyset tokens always hold a key
    parent, depth, start, after = cursor.after
    if not isinstance(depth, int) or depth < 0:  # pages.decode checked the types
        raise InvalidInput(f"invalid page_token: not a token that this {LISTING} listing gave out")
    return (str(parent) or None), depth, ((float(start), str(after)) if after else None)


def _token(parent: str | None, depth: int, after: Key | None) -> str:
    start, span = after if after is not None else (0.0, "")
    return pages.encode(LISTING, after=(parent or "", depth, start, span))


@dataclass
class _Frame:
    """One sibling list being walked: ``parent``'s children (None: the top level) after ``after``."""

    parent: str | None
    depth: int
    after: Key | None
    batch: deque[Light] = field(default_factory=deque)  # fetched, not served yet
    exhausted: bool = False  # nothing stored past ``batch``


# The light read of one sibling list: enough to walk, nothing of the span's content. Whether a span
# has children is its first child in index order: an EXISTS let PostgreSQL scan the whole table per
# row where one parent held most of the trace's spans (its estimate said a match comes soon); the
# ORDER BY ... LIMIT 1 of the index's own order makes the index the only sensible plan.
_CHILDREN = """SELECT s.span_id, s.start_time, (SELECT c.span_id FROM spans c
 WHERE c.trace_id = s.trace_id AND c.parent_span_id = s.span_id
 ORDER BY c.trace_id, c.parent_span_id, c.start_time, c.span_id LIMIT 1) AS first_child
FROM spans s WHERE s.trace_id = :trace AND {which}{after}
ORDER BY s.start_time, s.span_id LIMIT :n"""
# the same for a span's children, straight to the driver (``?`` becomes its mark): a page runs one per
# span with children that it shows, and SQLAlchemy's statement handling cost more than SQLite's work
_CHILDREN_RAW = (
    _CHILDREN.format(which="s.parent_span_id = ?", after="{after}").replace(":trace", "?").replace(":n", "?")
)
_AFTER_RAW = " AND (s.start_time, s.span_id) > (?, ?)"
_COUNT = "SELECT COUNT(*) FROM spans s WHERE s.trace_id = :trace AND {which}{after}"
_AFTER = " AND (s.start_time, s.span_id) > (:start, :span)"  # a row value: one index range seek
# is any span's parent missing: one pass over the trace's distinct parent ids in the index
_ANY_ORPHAN = """SELECT 1 FROM (SELECT DISTINCT parent_span_id FROM spans
 WHERE trace_id = :trace AND parent_span_id IS NOT NULL) d
WHERE NOT EXISTS (SELECT 1 FROM spans p WHERE p.trace_id = :trace AND p.span_id = d.parent_span_id) LIMIT 1"""
# (the trace id as a constant, not s.trace_id: PostgreSQL hashes this subquery once, over the trace's
# spans, where the correlated form had it hash the whole spans table)
_TOP_WITH_ORPHANS = """(s.parent_span_id IS NULL OR NOT EXISTS (SELECT 1 FROM spans p
 WHERE p.trace_id = :trace AND p.span_id = s.parent_span_id))"""
_ANCESTORS = """WITH RECURSIVE up(span_id, parent_span_id, n) AS (
 SELECT span_id, parent_span_id, 0 FROM spans WHERE trace_id = :trace AND span_id = :span
 UNION ALL
 SELECT p.span_id, p.parent_span_id, up.n + 1 FROM spans p JOIN up
  ON p.trace_id = :trace AND p.span_id = up.parent_span_id WHERE up.n < :cap)
SELECT COUNT(*), MAX(n) FROM up"""
_SPANS = """SELECT span_id, parent_span_id, name, kind, start_time, end_time, status_code, status_message,
 attributes, events FROM spans WHERE trace_id = ? AND span_id {ids}"""
_CHILD_COUNTS = "SELECT parent_span_id, COUNT(*) FROM spans WHERE trace_id = ? AND parent_span_id {ids} GROUP BY parent_span_id"


def _json(value: Any) -> Any:
    """A JSON column as the driver gives it: text from SQLite, already decoded from psycopg."""
    return json.loads(value) if isinstance(value, str) else value


class _Walk:
    """The queries of one page, in one session (one transaction: one consistent view)."""

    def __init__(self, session: Session, trace_id: str) -> None:
        self.session = session
        self.trace_id = trace_id
        self._orphans: bool | None = None  # whether any span's parent is missing, once asked
        self._conn = session.connection()
        self._mark = mark = "?" if self._conn.dialect.paramstyle == "qmark" else "%s"
        self._children_sql = {
            after: _CHILDREN_RAW.format(after=_AFTER_RAW if after else "").replace("?", mark)
            for after in (False, True)
        }

    def run(self, start: _Frame, limit: int) -> tuple[list[tuple[str, int]], list[_Frame]]:
        """(span id, depth) of up to ``limit`` spans depth first from ``start``, and the sibling lists
        left unfinished, outermost first."""
        out: list[tuple[str, int]] = []
        stack = [start]
        while stack and len(out) < limit:
            frame = stack[-1]
            if not frame.batch and not frame.exhausted:
                need = limit - len(out)  # every sibling served is at least one row
                got = self._siblings(frame.parent, frame.after, need)
                frame.batch.extend(got)
                frame.exhausted = len(got) < need
            if not frame.batch:
                stack.pop()
                continue
            span_id, start_time, has_children = frame.batch.popleft()
            frame.after = (start_time, span_id)
            out.append((span_id, frame.depth))
            if has_children:
                stack.append(_Frame(span_id, frame.depth + 1, None))
        return out, stack

    def more(self, frame: _Frame) -> SpanTreeMore | None:
        """What is left of an unfinished sibling list, or None when it turns out to be finished."""
        if frame.exhausted and not frame.batch:
            return None
        remaining = self._count(frame.parent, frame.after)
        if not remaining:
            return None
        return SpanTreeMore(
            parent_span_id=frame.parent,
            depth=frame.depth,
            remaining=remaining,
            page_token=_token(frame.parent, frame.depth, frame.after),
        )

    def rows(self, order: list[tuple[str, int]]) -> list[SpanTreeRow]:
        """The page's spans read whole, in walk order, with their child counts."""
        ids = [span_id for span_id, _ in order]
        found: dict[str, Span] = {}
        counts: dict[str, int] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            found.update((sp.span_id, sp) for sp in map(self._span, self._by_ids(_SPANS, chunk)))
            counts.update((p, int(n)) for p, n in self._by_ids(_CHILD_COUNTS, chunk))
        return [
            SpanTreeRow(span=found[span_id], depth=depth, children=counts.get(span_id, 0))
            for span_id, depth in order
            if span_id in found
        ]

    def _by_ids(self, sql: str, ids: list[str]) -> Any:
        """``sql`` (its ``{ids}`` the span id match) for these ids, straight to the driver: an IN list
        on SQLite, one array on PostgreSQL (psycopg parsed a 500-mark statement for longer than the
        database ran it)."""
        params: tuple[Any, ...]
        if self._mark == "?":
            match, params = f"IN ({', '.join('?' * len(ids))})", (self.trace_id, *ids)
        else:
            match, params = "= ANY(?)", (self.trace_id, ids)
        return self._conn.exec_driver_sql(sql.format(ids=match).replace("?", self._mark), params)

    def _span(self, row: Any) -> Span:
        sid, parent, name, kind, start, end, code, message, attributes, events = row
        return Span(
            trace_id=self.trace_id,
            span_id=sid,
            parent_span_id=parent,
            name=name,
            kind=kind,
            start_time=start,
            end_time=end,
            status_code=code,
            status_message=message or "",
            attributes=_json(attributes) or {},
            events=_json(events) or [],
            duration_ms=(end - start) * 1000.0,
        )

    def depth_below(self, span_id: str) -> int:
        """The depth of ``span_id``'s children: one more than its stored ancestors. ``NotFound`` when
        the span is not in this trace or not in its tree (its parents name each other in a loop)."""
        params = {"trace": self.trace_id, "span": span_id, "cap": MAX_DEPTH}
        found, deepest = self.session.execute(text(_ANCESTORS), params).one()
        if not found:
            raise NotFound(
                f"span {span_id!r} not found in trace {self.trace_id!r}",
                details={"trace_id": self.trace_id, "span_id": span_id},
            )
        if deepest >= MAX_DEPTH:
            raise NotFound(
                f"span {span_id!r} is not in the tree of trace {self.trace_id!r}: its parents name each "
                "other in a loop, so it has no top-level ancestor",
                details={"trace_id": self.trace_id, "span_id": span_id},
            )
        return int(deepest) + 1

    def _siblings(self, parent: str | None, after: Key | None, n: int) -> list[Light]:
        if parent is not None:
            params = (self.trace_id, parent, *(after or ()), n)
            found = self._conn.exec_driver_sql(self._children_sql[after is not None], params)
            return [(sid, float(t), k is not None) for sid, t, k in found]
        return self._light(self._top_level(), {}, after, n)

    def _count(self, parent: str | None, after: Key | None) -> int:
        if parent is not None:
            return self._scalar(_COUNT, "s.parent_span_id = :parent", {"parent": parent}, after)
        return self._scalar(_COUNT, self._top_level(), {}, after)

    def _top_level(self) -> str:
        """The WHERE clause of the top-level spans. Without orphans (the usual trace) they are the
        spans without a parent, one range of the index; with orphans, the trace's spans in start order
        each checked for a stored parent, which a page stops reading once it has its rows."""
        if self._orphans is None:
            self._orphans = (
                self.session.execute(text(_ANY_ORPHAN), {"trace": self.trace_id}).first() is not None
            )
        return _TOP_WITH_ORPHANS if self._orphans else "s.parent_span_id IS NULL"

    def _light(self, which: str, params: dict[str, Any], after: Key | None, n: int) -> list[Light]:
        sql, bound = self._where(_CHILDREN, which, params, after)
        return [
            (sid, float(t), k is not None) for sid, t, k in self.session.execute(text(sql), {**bound, "n": n})
        ]

    def _scalar(self, sql: str, which: str, params: dict[str, Any], after: Key | None) -> int:
        query, bound = self._where(sql, which, params, after)
        return int(self.session.execute(text(query), bound).scalar_one())

    def _where(
        self, sql: str, which: str, params: dict[str, Any], after: Key | None
    ) -> tuple[str, dict[str, Any]]:
        bound: dict[str, Any] = {"trace": self.trace_id, **params}
        if after is not None:
            bound.update(start=after[0], span=after[1])
        return sql.format(which=which, after=_AFTER if after is not None else ""), bound
