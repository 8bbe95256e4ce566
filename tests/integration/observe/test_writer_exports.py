"""The batched writer keeps an OTLP export whole: one sink call (one transaction) per export at most,
never an export split across two, whatever its size; loose tracer spans are still batched."""

from __future__ import annotations

from llmloop.services.observe.schemas import SpanData
from llmloop.services.observe.writer import Queued, SpanWriter


def _rows(tag: str, n: int) -> list[SpanData]:
    return [SpanData("a" * 32, f"{i:016x}", None, tag, "s", "internal", 1.0, 2.0, "unset", "", {}, [])
            for i in range(n)]  # fmt: skip


def test_exports_are_never_split_and_loose_spans_are_batched() -> None:
    batches: list[list[Queued]] = []
    writer = SpanWriter(batches.append, interval_s=60, max_batch=10)
    writer.submit_batch(_rows("e1", 6))
    writer.submit_batch(_rows("e2", 6))  # does not fit beside e1: its own transaction, not 4 + 2
    writer.submit_batch(_rows("big", 25))  # larger than max_batch: still one
    for row in _rows("loose", 12):
        writer.submit(row)  # as the tracer submits its spans, one by one
    assert writer.pending == 49
    writer.close()
    assert [sorted({r.project for r in b}) for b in batches] == [
        ["e1"],
        ["e2"],
        ["big"],
        ["loose"],
        ["loose"],
    ]
    assert [len(b) for b in batches] == [6, 6, 25, 10, 2]
    assert writer.pending == 0 and writer.written == 49
