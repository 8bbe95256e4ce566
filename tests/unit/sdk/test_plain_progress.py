"""Evaluation progress off a terminal: a plain line every 10% with elapsed time and ETA, and a
fresh clock for each sequence (a gate evaluates the candidate, then the baseline)."""

from __future__ import annotations

import io

from llmloop.sdk.progress import PlainProgress, reporting


def test_plain_lines_every_tenth_with_eta_and_a_new_clock_per_sequence() -> None:
    now = [100.0]
    out = io.StringIO()
    report = PlainProgress("evaluating", stream=out, clock=lambda: now[0])
    report(0, 40)
    for done in range(4, 44, 4):  # batches of 4 taking 2 s each
        now[0] += 2.0
        report(done, 40)
    lines = out.getvalue().splitlines()
    assert lines[0] == "evaluating: 4/40 (10%), 2s, ETA 18s"
    assert lines[-1] == "evaluating: 40/40 (100%), 20s, ETA 0s"
    assert len(lines) == 10

    out.truncate(0)
    out.seek(0)
    report(0, 300)  # the next evaluation: its own total and clock
    now[0] += 90.0
    report(150, 300)
    report(160, 300)  # 53%: under the next 10% step, no line
    assert out.getvalue().splitlines() == ["evaluating: 150/300 (50%), 1m30s, ETA 1m30s"]


def test_reporting_passes_a_callable_through_and_turns_false_into_none() -> None:
    seen: list[tuple[int, int]] = []

    def mine(done: int, total: int) -> None:
        seen.append((done, total))

    with reporting(mine) as fn:
        assert fn is mine
    with reporting(False) as fn:
        assert fn is None
    with reporting(True) as fn:  # pytest's stderr is no terminal: plain lines
        assert isinstance(fn, PlainProgress)
