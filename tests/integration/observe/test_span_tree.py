"""The span tree paged in SQL (SQLite and PostgreSQL): tree order, pages that meet without gaps or
repeats, expanding a node, spans stored between pages, and another project's trace looking absent.

Each test checks the service against ``reference``: the tree laid out in Python from all of the
trace's spans, as the UI did before the tree was paged (depth first from the top-level spans, a span
whose parent is not stored counting as top-level, children by start time then span id).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from llmloop.errors import InvalidInput, NotFound
from llmloop.security.rbac import Actor
from llmloop.services.observe import service, tree
from llmloop.services.observe.schemas import SpanData, SpanTreePage
from llmloop.services.observe.tracer import new_trace_id
from llmloop.store import pages


def span(trace_id: str, n: int, parent: int | str | None, start: float, project: str = "obs") -> SpanData:
    """Span number ``n`` (its id is ``n`` in hex); ``parent`` a number, a raw span id, or None."""
    pid = f"{parent:016x}" if isinstance(parent, int) else parent
    return SpanData(
        trace_id, f"{n:016x}", pid, project, f"s{n}", "internal", start, start + 0.5, "ok", "", {}, []
    )


def reference(spans: list[SpanData]) -> list[tuple[str, int]]:
    """(name, depth) of every span reachable from the top level, depth first."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[SpanData]] = {}
    for s in sorted(spans, key=lambda s: (s.start_time, s.span_id)):
        children.setdefault(s.parent_span_id if s.parent_span_id in ids else None, []).append(s)
    out: list[tuple[str, int]] = []
    stack = [(s, 0) for s in reversed(children.get(None, []))]
    while stack:
        s, depth = stack.pop()
        out.append((s.name, depth))
        stack.extend((c, depth + 1) for c in reversed(children.get(s.span_id, [])))
    return out


def load_all(ctx: Any, trace_id: str, limit: int, **first: Any) -> tuple[list[tuple[str, int]], int]:
    """Every row of the tree, loading each ``more`` in its place as the page does; and the request count."""
    requests = 0

    def expand(page: SpanTreePage) -> list[tuple[str, int]]:
        nonlocal requests
        assert len(page.rows) <= limit
        rows = [(r.span.name, r.depth) for r in page.rows]
        for more in page.more:  # more[0] right after the rows, then more[1], ...
            requests += 1
            rows += expand(tree.span_tree(ctx, trace_id=trace_id, page_token=more.page_token, limit=limit))
        return rows

    requests += 1
    return expand(tree.span_tree(ctx, trace_id=trace_id, limit=limit, **first)), requests


def random_trace(trace_id: str, n: int, seed: int) -> list[SpanData]:
    """``n`` spans under one root, random parents, many start times tied, two orphans and a second root."""
    rng = random.Random(seed)
    spans = [span(trace_id, 1, None, 100.0)]
    for i in range(2, n + 1):
        spans.append(span(trace_id, i, rng.randint(1, i - 1), 100.0 + rng.randint(0, 9)))
    spans.append(span(trace_id, n + 1, "ffffffffffffff01", 103.0))  # its parent was never stored
    spans.append(span(trace_id, n + 2, "ffffffffffffff02", 100.0))
    spans.append(span(trace_id, n + 3, None, 104.0))  # a second root
    spans.append(span(trace_id, n + 4, n + 1, 99.0))  # under an orphan
    return spans


def test_the_tree_is_depth_first_with_depths_and_child_counts(ctx: Any) -> None:
    trace_id = new_trace_id()
    spans = random_trace(trace_id, 60, seed=1)
    rng = random.Random(7)
    rng.shuffle(spans)
    for i in range(0, len(spans), 9):  # stored out of order across batches, children before parents
        service.record_spans(ctx, spans=spans[i : i + 9])
    page = tree.span_tree(ctx, trace_id=trace_id, limit=1000)
    assert [(r.span.name, r.depth) for r in page.rows] == reference(spans) and page.more == []
    assert len(page.rows) == len(spans)
    kids = {s.span_id: 0 for s in spans}
    for s in spans:
        if s.parent_span_id in kids:
            kids[s.parent_span_id] += 1
    assert {r.span.span_id: r.children for r in page.rows} == kids
    orphan = next(r for r in page.rows if r.span.name == "s61")
    assert orphan.depth == 0 and orphan.span.parent_span_id == "ffffffffffffff01"


@pytest.mark.parametrize("limit", [1, 2, 5, 17])
def test_pages_meet_without_gaps_or_repeats(ctx: Any, limit: int) -> None:
    trace_id = new_trace_id()
    spans = random_trace(trace_id, 80, seed=limit)
    service.record_spans(ctx, spans=spans)
    rows, requests = load_all(ctx, trace_id, limit)
    assert rows == reference(spans)
    assert requests >= -(-len(spans) // limit)  # it did page, each request at most ``limit`` rows


def test_a_page_stops_short_with_what_follows_deepest_first(ctx: Any) -> None:
    trace_id = new_trace_id()
    # root 1 > 2 > 3 > (4, 5); root 1 > 6; a second root 7
    spans = [span(trace_id, 1, None, 1.0), span(trace_id, 2, 1, 2.0), span(trace_id, 3, 2, 3.0),
             span(trace_id, 4, 3, 4.0), span(trace_id, 5, 3, 5.0), span(trace_id, 6, 1, 6.0),
             span(trace_id, 7, None, 7.0)]  # fmt: skip
    service.record_spans(ctx, spans=spans)
    page = tree.span_tree(ctx, trace_id=trace_id, limit=3)
    assert [(r.span.name, r.depth, r.children) for r in page.rows] == [
        ("s1", 0, 2),
        ("s2", 1, 1),
        ("s3", 2, 2),
    ]
    # s3's children are not loaded yet, then s1's other child, then the other root
    assert [(m.parent_span_id, m.depth, m.remaining) for m in page.more] == [
        (f"{3:016x}", 3, 2),
        (f"{1:016x}", 1, 1),
        (None, 0, 1),
    ]
    first = tree.span_tree(ctx, trace_id=trace_id, page_token=page.more[0].page_token, limit=1)
    assert [r.span.name for r in first.rows] == ["s4"]
    assert [(m.parent_span_id, m.remaining) for m in first.more] == [(f"{3:016x}", 1)]  # only s3's list


def test_spans_stored_between_pages_show_up_once_where_they_belong(ctx: Any) -> None:
    trace_id = new_trace_id()
    spans = [span(trace_id, 1, None, 1.0), *(span(trace_id, i, 1, float(i)) for i in range(2, 8))]
    service.record_spans(ctx, spans=spans)
    page = tree.span_tree(ctx, trace_id=trace_id, limit=3)  # s1, s2, s3
    late = [span(trace_id, 20, 1, 2.5), span(trace_id, 21, 1, 9.0)]  # one before the cursor, one after
    service.record_spans(ctx, spans=late)
    rest = tree.span_tree(ctx, trace_id=trace_id, page_token=page.more[0].page_token, limit=100)
    assert [r.span.name for r in rest.rows] == ["s4", "s5", "s6", "s7", "s21"]
    rows, _ = load_all(ctx, trace_id, 3)
    assert rows == reference(spans + late)  # a fresh read places the earlier one too


def test_expanding_a_node_gives_its_subtree_at_its_depth(ctx: Any) -> None:
    trace_id = new_trace_id()
    spans = random_trace(trace_id, 50, seed=3)
    service.record_spans(ctx, spans=spans)
    full = reference(spans)
    inner = next(s for s in spans if s.parent_span_id is not None and s.parent_span_id[:14] != "ffffffffffffff"
                 and any(c.parent_span_id == s.span_id for c in spans))  # fmt: skip
    at = [name for name, _ in full].index(inner.name)
    depth = full[at][1]
    subtree = []
    for name, d in full[at + 1 :]:
        if d <= depth:
            break
        subtree.append((name, d))
    for limit in (1, 4, 500):
        rows, _ = load_all(ctx, trace_id, limit, parent_span_id=inner.span_id)
        assert rows == subtree
    leaf = next(s for s in spans if not any(c.parent_span_id == s.span_id for c in spans))
    assert tree.span_tree(ctx, trace_id=trace_id, parent_span_id=leaf.span_id).rows == []
    with pytest.raises(NotFound, match="span 'abababababababab' not found in trace"):
        tree.span_tree(ctx, trace_id=trace_id, parent_span_id="abababababababab")


def test_spans_whose_parents_loop_are_in_no_tree(ctx: Any) -> None:
    trace_id = new_trace_id()
    spans = [span(trace_id, 1, None, 1.0), span(trace_id, 2, 3, 2.0), span(trace_id, 3, 2, 3.0)]
    service.record_spans(ctx, spans=spans)
    assert (
        [r.span.name for r in tree.span_tree(ctx, trace_id=trace_id).rows]
        == ["s1"]
        == [n for n, _ in reference(spans)]
    )
    with pytest.raises(NotFound, match="parents name each other in a loop"):
        tree.span_tree(ctx, trace_id=trace_id, parent_span_id=f"{2:016x}")


def test_another_projects_trace_looks_absent(ctx: Any) -> None:
    mine, theirs = new_trace_id(), new_trace_id()
    service.record_spans(ctx, spans=[span(mine, 1, None, 1.0, "p"), span(theirs, 1, None, 1.0, "q")])
    alice = ctx.as_actor(Actor(id="alice", roles={"p": "viewer"}, via="test"))
    assert [r.span.name for r in tree.span_tree(alice, trace_id=mine).rows] == ["s1"]
    with pytest.raises(NotFound) as unknown:
        tree.span_tree(alice, trace_id="0" * 32)
    for call in (
        lambda: tree.span_tree(alice, trace_id=theirs),
        lambda: tree.span_tree(alice, trace_id=theirs, parent_span_id=f"{1:016x}"),
        lambda: tree.span_tree(
            alice, trace_id=theirs, page_token=pages.encode("span tree", after=("", 0, 0.0, ""))
        ),
    ):
        with pytest.raises(NotFound) as absent:
            call()
        assert str(absent.value) == str(unknown.value).replace("0" * 32, theirs)


def test_bad_requests_say_what_is_wrong(ctx: Any) -> None:
    trace_id = new_trace_id()
    service.record_spans(ctx, spans=[span(trace_id, 1, None, 1.0)])
    with pytest.raises(InvalidInput, match="invalid page_token"):
        tree.span_tree(ctx, trace_id=trace_id, page_token="not-a-token")
    runs_token = pages.encode("runs", offset=3)
    with pytest.raises(InvalidInput, match="invalid page_token"):
        tree.span_tree(ctx, trace_id=trace_id, page_token=runs_token)
    with pytest.raises(InvalidInput, match="limit must be 1 to 1000"):
        tree.span_tree(ctx, trace_id=trace_id, limit=0)
    with pytest.raises(InvalidInput, match="not both"):
        tree.span_tree(ctx, trace_id=trace_id, parent_span_id=f"{1:016x}", page_token=runs_token)
