"""Evaluation reports progress per batch: the SDK hands the callback ``(0, total)`` then one call
per batch; a gate reports its candidate's sequence and then its baseline's; the CLI off a terminal
prints a plain line every 10% (and nothing with ``--json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval_fixtures import N_ITEMS, answering, write_suite

import llmloop as ll


def test_run_and_gate_call_progress_once_per_batch(qa_suite: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    result = ll.evaluations.run(
        qa_suite, model=answering(set(range(20))), progress=lambda d, t: seen.append((d, t))
    )
    assert result.status == "completed"
    per_batch = [(0, N_ITEMS)] + [(min(n, N_ITEMS), N_ITEMS) for n in range(8, N_ITEMS + 8, 8)]
    assert seen == per_batch  # batch_size 8 over 40 examples: 0, 8, 16, 24, 32, 40

    gated = write_suite(tmp_path / "g", gates=["exact_match better than baseline (95% CI)"])
    seen.clear()
    verdict = ll.evaluations.gate(
        gated,
        candidate=answering(set(range(30))),
        baseline=answering(set(range(10))),
        progress=lambda d, t: seen.append((d, t)),
    )
    assert verdict.passed
    assert seen == per_batch + per_batch  # the candidate's evaluation, then the baseline's


def test_cli_prints_plain_progress_lines_off_a_terminal(cli: Any, qa_suite: Path, model_module: str) -> None:
    res = cli("eval", "run", str(qa_suite), "--model", f"py:{model_module}:strong")
    assert res.exit_code == 0, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("evaluating: ")]
    assert [ln.split(",")[0] for ln in lines] == [
        "evaluating: 8/40 (20%)",
        "evaluating: 16/40 (40%)",
        "evaluating: 24/40 (60%)",
        "evaluating: 32/40 (80%)",
        "evaluating: 40/40 (100%)",
    ]
    assert lines[-1].endswith("ETA 0s")
    quiet = cli("eval", "run", str(qa_suite), "--model", f"py:{model_module}:strong", "--json")
    assert quiet.exit_code == 0 and "evaluating" not in quiet.stderr
