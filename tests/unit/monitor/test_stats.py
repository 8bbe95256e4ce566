"""The two-sample tests on synthetic data: valid p-values under no change, power under a change."""

from __future__ import annotations

import numpy as np
import pytest

from llmloop.services.monitor import stats
from llmloop.services.monitor.budget import budget, permutations_for


def _unit(n: int, rng: np.random.Generator, shift: float = 0.0) -> np.ndarray:
    x = rng.normal(size=(n, 32)).astype(np.float32)
    x[:, 0] += shift
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_permutation_p_value_counts_the_observed_statistic_so_it_is_never_zero() -> None:
    rng = np.random.default_rng(0)
    far = stats.mmd_test(_unit(50, rng), _unit(50, rng, shift=5.0), permutations=99)
    assert far.p_value == pytest.approx(1 / 100)  # (k + 1) / (n + 1) with k = 0
    assert far.witness.shape == (50,) and far.witness.mean() > 0


def test_mmd_false_positive_rate_holds_its_level_and_a_shift_is_found() -> None:
    rng = np.random.default_rng(1)
    flagged = sum(
        stats.mmd_test(_unit(60, rng), _unit(60, rng), permutations=99, seed=i).p_value < 0.05
        for i in range(60)
    )
    assert flagged <= 7  # 5% of 60 is 3; 7 is past the binomial's 97th percentile
    shifted = stats.mmd_test(_unit(100, rng), _unit(100, rng, shift=1.5), permutations=199)
    assert shifted.p_value < 0.01


def test_classifier_auc_is_a_half_without_change_and_high_with_one() -> None:
    rng = np.random.default_rng(2)
    same = stats.classifier_auc(_unit(150, rng), _unit(150, rng))
    moved = stats.classifier_auc(_unit(150, rng), _unit(150, rng, shift=2.0))
    assert abs(same.statistic - 0.5) < 0.1 and same.p_value > 0.01
    assert moved.statistic > 0.8 and moved.p_value < 1e-6


def test_topic_shift_finds_a_new_cluster_and_not_a_resample() -> None:
    rng = np.random.default_rng(3)
    centers = _unit(4, rng) * 4

    def sample(n: int, which: list[int]) -> np.ndarray:
        x = centers[rng.choice(which, n)] + rng.normal(size=(n, 32)).astype(np.float32) * 0.3
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    clusters = stats.fit_clusters(sample(400, [0, 1, 2]), k=3)
    assert stats.topic_shift(clusters, sample(200, [0, 1, 2])).p_value > 0.01
    moved = stats.topic_shift(clusters, np.concatenate([sample(160, [0, 1, 2]), sample(40, [3])]))
    assert moved.p_value < 1e-4
    assert moved.current_shares[-1] > 0.1  # the fourth topic lands in the "new" bin


def test_ks_on_lengths() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.integers(20, 80, 300).astype(float), rng.integers(20, 80, 300).astype(float)
    assert stats.ks_test(a, b).p_value > 0.01
    assert stats.ks_test(a, b + 15).p_value < 1e-6


def test_the_daily_budget_is_split_over_the_days_tests_and_permutations_follow() -> None:
    hourly = budget(false_alarms_per_day=0.05, interval_s=3600)
    assert hourly.tests_per_day == 24 and hourly.alpha == pytest.approx(0.05 / 24)
    assert "0.05 false alarms/day" in hourly.describe()
    assert 1 / (permutations_for(hourly.alpha) + 1) <= hourly.alpha / 5
    assert budget(false_alarms_per_day=0.05, interval_s=7 * 86_400).alpha == 0.05  # one test a week: no split
