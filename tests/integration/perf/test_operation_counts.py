"""A regression guard that cannot flake: the SQL statements and commits of the hot paths, counted.

Seconds move with the machine and its load, so speed lives in ``make bench``; the number of
statements a path sends to the store moves only when the code asks for more. Each path
(``counting.PATHS``) runs on a fresh SQLite store at two sizes of its input:

* a flat path (a page, an export, one run) must cost the same at both sizes: a listing that grows
  with the table, or an ingest that writes row by row, fails here;
* every path's count must stay within twice its committed baseline (``operation_counts.json``), and
  for the per-step paths the marginal cost of one more step must too.

After a deliberate change, ``python -m tests.integration.perf.regen`` rewrites the baseline; commit
it with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.integration.perf.counting import BASELINE, PATHS, SIZES, measure

SMALL, LARGE = SIZES


def _baseline() -> dict[str, dict[str, dict[str, int]]]:
    data: dict[str, dict[str, dict[str, int]]] = json.loads(BASELINE.read_text())
    return data


def test_the_baseline_covers_every_counted_path() -> None:
    assert sorted(_baseline()) == sorted(PATHS)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_operation_counts_stay_within_twice_the_baseline(path: str, tmp_path: Path) -> None:
    got = measure(path, tmp_path)
    base = _baseline()[path]
    _, flat = PATHS[path]
    for kind in ("statements", "commits"):
        small, large = got[SMALL][kind], got[LARGE][kind]
        if flat:
            assert small == large, f"{path}: {kind} grow with n ({small} at {SMALL}, {large} at {LARGE})"
        else:
            per_step = (large - small) / (LARGE - SMALL)
            base_per_step = (base[str(LARGE)][kind] - base[str(SMALL)][kind]) / (LARGE - SMALL)
            assert per_step <= 2 * base_per_step, (
                f"{path}: {per_step:g} {kind} per step, baseline {base_per_step:g}"
            )
        for n in SIZES:
            assert got[n][kind] <= 2 * base[str(n)][kind], (
                f"{path} at n={n}: {got[n][kind]} {kind}, more than twice the baseline {base[str(n)][kind]}"
            )
