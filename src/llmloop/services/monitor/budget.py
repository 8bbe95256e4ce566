"""The false-alarm budget of a monitor that tests again and again.

A test at level a, repeated m times a day on unchanged traffic, raises up to m·a false alarms a day
(ICLR 2026, "When drift detectors cry wolf"). A monitor therefore states the rate it accepts,
``false_alarms_per_day``, and each test spends an equal share of it (Bonferroni over a day's tests):
``alpha = false_alarms_per_day / tests_per_day``. By the union bound the chance of any false alarm in
a day is at most ``false_alarms_per_day`` whatever the dependence between overlapping windows.

A permutation p-value cannot go below ``1 / (permutations + 1)``, so the number of permutations is
raised until that floor sits well under ``alpha`` (else the monitor could never fire).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DAY_S = 86_400.0
MAX_PERMUTATIONS = 20_000


@dataclass(frozen=True)
class Budget:
    false_alarms_per_day: float
    tests_per_day: float
    alpha: float  # the level each single test is held to

    def describe(self) -> str:
        return (
            f"{self.tests_per_day:g} tests/day at alpha={self.alpha:.3g} each: "
            f"at most {self.false_alarms_per_day:g} false alarms/day"
        )


def budget(*, false_alarms_per_day: float, interval_s: float) -> Budget:
    """Spread ``false_alarms_per_day`` evenly over the tests a day holds at one per ``interval_s``."""
    tests = max(1.0, DAY_S / interval_s)
    return Budget(false_alarms_per_day, tests, min(0.5, false_alarms_per_day / tests))


def permutations_for(alpha: float, *, minimum: int = 200) -> int:
    """Enough permutations that the smallest possible p-value is a fifth of ``alpha`` (capped)."""
    return int(min(MAX_PERMUTATIONS, max(minimum, math.ceil(5.0 / alpha))))
