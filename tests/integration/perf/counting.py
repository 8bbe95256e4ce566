"""The hot paths whose SQL operations the guard counts, each at two sizes of its input.

Each path is a function ``(ctx, n) -> None`` that sets itself up (uncounted) and then runs the path
once inside ``counted``; ``measure`` gives ``{path: {"statements": s, "commits": c}}`` at each size.
Counts of statements and commits are exact for a given code path, so unlike seconds they do not
move with the machine or its load; what moves them is a change in what the code asks of the store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event

BASELINE = Path(__file__).with_name("operation_counts.json")
PROJECT = "perf"
SIZES = (10, 40)  # every path runs at both; those marked flat must cost the same at each


@dataclass
class Counter:
    statements: int = 0
    commits: int = 0
    on: bool = False
    seen: list[str] = field(default_factory=list)


@contextmanager
def counting(ctx: Any) -> Iterator[Callable[[], Any]]:
    """Yields ``counted``, a context manager whose block's statements and commits are counted."""
    engine = ctx.db.engine
    c = Counter()

    def on_statement(*args: Any) -> None:
        if c.on:
            c.statements += 1
            c.seen.append(str(args[2])[:120])

    def on_commit(*_: Any) -> None:
        if c.on:
            c.commits += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)

    @contextmanager
    def counted() -> Iterator[Counter]:
        c.statements, c.commits, c.seen = 0, 0, []
        c.on = True
        try:
            yield c
        finally:
            c.on = False

    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)


HotPath = Callable[[Any, Callable[[], Any], int], Counter]


def _run_create(ctx: Any, counted: Callable[[], Any], n: int) -> Counter:
    """A run with 5 params and 5 tags, then ``n`` metric points in one batch, then its end."""
    from llmloop.services.tracking import service as tracking
    from llmloop.services.tracking.schemas import RunBatch, RunCreate

    spec = RunCreate(
        project=PROJECT, params={f"p{i}": i for i in range(5)}, tags={f"t{i}": "x" for i in range(5)}
    )
    tracking.create_run(ctx, spec=RunCreate(project=PROJECT))  # the project exists, as it would
    with counted() as c:
        run = tracking.create_run(ctx, spec=spec)
        points = [["loss", 1.0 / (i + 1), i, 0.0] for i in range(n)]
        tracking.log_batch(ctx, run_id=run.id, batch=RunBatch(points=points, end_status="finished"))  # type: ignore[arg-type]
    return c


def _run_search(ctx: Any, counted: Callable[[], Any], n: int) -> Counter:
    """A metric-filtered search over ``n`` runs (flat: a page costs what its rows cost)."""
    from llmloop.services.tracking import service as tracking
    from llmloop.services.tracking.schemas import RunBatch, RunCreate, RunSearch

    for i in range(n):
        run = tracking.create_run(ctx, spec=RunCreate(project=PROJECT, params={"lr": i}))
        tracking.log_batch(ctx, run_id=run.id, batch=RunBatch(points=[["loss", float(i), 0, 0.0]]))  # type: ignore[list-item]
    with counted() as c:
        tracking.search_runs(ctx, query=RunSearch(project=PROJECT, filter="metrics.loss < 1000", limit=5))
    return c


def _spans(trace_id: str, n: int, base: float) -> list[Any]:
    from llmloop.services.observe.schemas import SpanData

    root = trace_id[:16]
    out = [SpanData(trace_id, root, None, PROJECT, "chat", "server", base, base + 1, "ok", "", {}, [])]
    parents = [root]
    for i in range(1, n):
        span = uuid.uuid4().hex[:16]
        out.append(
            SpanData(trace_id, span, parents[(i - 1) // 3], PROJECT, f"step {i}", "internal",
                     base + i * 1e-3, base + i * 1e-3 + 5e-4, "ok", "", {}, [])
        )  # fmt: skip
        parents.append(span)
    return out


def _ingest(ctx: Any, counted: Callable[[], Any], n: int) -> Counter:
    """One export of ``n`` spans of one trace, as OTLP ingest writes it (flat: one transaction)."""
    from llmloop.services.observe.service import record_spans

    with counted() as c:
        record_spans(ctx, spans=_spans(uuid.uuid4().hex, n, 1_000.0))
    return c


def _trace_list(ctx: Any, counted: Callable[[], Any], n: int) -> Counter:
    """The first page of the traces list over ``n`` traces (flat)."""
    from llmloop.services.observe.schemas import TraceSearch
    from llmloop.services.observe.service import list_traces, record_spans

    for i in range(n):
        record_spans(ctx, spans=_spans(uuid.uuid4().hex, 3, 1_000.0 + i))
    with counted() as c:
        list_traces(ctx, query=TraceSearch(project=PROJECT, limit=5))
    return c


def _span_tree(ctx: Any, counted: Callable[[], Any], n: int) -> Counter:
    """The first 5 rows of a span tree of ``n`` spans (a root, tool calls under it, two spans under
    each): flat, since those rows and what follows them are the same whatever the trace's size."""
    from llmloop.services.observe.schemas import SpanData
    from llmloop.services.observe.service import record_spans
    from llmloop.services.observe.tree import span_tree

    trace_id = uuid.uuid4().hex
    root = trace_id[:16]
    spans = [SpanData(trace_id, root, None, PROJECT, "agent", "server", 0.0, 1e3, "ok", "", {}, [])]
    for i in range(n // 3):
        call = f"c{i:015x}"
        spans.append(
            SpanData(trace_id, call, root, PROJECT, "tool", "internal", i, i + 0.9, "ok", "", {}, [])
        )
        for j in range(2):
            spans.append(
                SpanData(trace_id, f"g{i:013x}{j:02x}", call, PROJECT, "llm", "client", i + j * 0.1,
                         i + j * 0.1 + 0.05, "ok", "", {}, [])
            )  # fmt: skip
    record_spans(ctx, spans=spans)
    with counted() as c:
        span_tree(ctx, trace_id=trace_id, limit=5)
    return c


def _pipeline(ctx: Any, counted: Callable[[], Any], n: int, *, again: bool) -> Counter:
    """A chain of ``n`` tiny function steps on the inline executor, all misses (or, ``again``, all hits)."""
    import llmloop as ll

    folder = Path(ctx.settings.home) / "perf-steps"
    folder.mkdir(exist_ok=True)
    (folder / "perf_chain.py").write_text("def tiny(x):\n    return {'value': x + 1}\n")
    steps: list[dict[str, Any]] = [{"name": "s0", "kind": "perf_chain:tiny", "inputs": {"x": 0}}]
    steps += [
        {"name": f"s{i}", "kind": "perf_chain:tiny", "inputs": {"x": f"steps.s{i - 1}.value"}}
        for i in range(1, n)
    ]
    defn = {"name": f"chain{n}", "project": PROJECT, "steps": steps, "base_dir": str(folder)}
    if again:
        ll.pipelines.run(defn, executor="inline")
    with counted() as c:
        ll.pipelines.run(defn, executor="inline")
    return c


PATHS: dict[str, tuple[HotPath, bool]] = {  # name -> (path, flat in n)
    "tracking: create a run, n points, end it": (_run_create, True),
    "tracking: search n runs, first page": (_run_search, True),
    "traces: ingest one export of n spans": (_ingest, True),
    "traces: list n traces, first page": (_trace_list, True),
    "traces: span tree of n spans, first page": (_span_tree, True),
    "pipelines: n steps, all misses": (
        lambda ctx, counted, n: _pipeline(ctx, counted, n, again=False),
        False,
    ),
    "pipelines: n steps, all hits": (lambda ctx, counted, n: _pipeline(ctx, counted, n, again=True), False),
}


@contextmanager
def fresh_context(home: Path) -> Iterator[Any]:
    """A local context over an embedded store of its own in ``home``; the environment is put back after."""
    import os

    from llmloop.config import reset_settings
    from llmloop.context import local_context

    keys = ("LLMLOOP_HOME", "LLMLOOP_DATABASE_URL")
    before = {k: os.environ.get(k) for k in keys}
    os.environ.update(LLMLOOP_HOME=str(home), LLMLOOP_DATABASE_URL=f"sqlite:///{home / 'llmloop.db'}")
    reset_settings()
    try:
        yield local_context()
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_settings()


def measure(path: str, root: Path) -> dict[int, dict[str, int]]:
    """``path``'s counts at each size, each on a fresh store under ``root``."""
    fn, _ = PATHS[path]
    out = {}
    for n in SIZES:
        home = root / f"{abs(hash(path))}-{n}"
        home.mkdir(parents=True)
        with fresh_context(home) as ctx, counting(ctx) as counted:
            c = fn(ctx, counted, n)
        out[n] = {"statements": c.statements, "commits": c.commits}
    return out
