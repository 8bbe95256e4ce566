"""Paired statistics: CI coverage on synthetic data with a known shift, p-values, determinism, wins/losses."""

from __future__ import annotations

import numpy as np
import pytest

from llmloop.errors import InvalidInput
from llmloop.services.evaluate.metrics.base import MetricInputs
from llmloop.services.evaluate.metrics.bleu import Bleu
from llmloop.services.evaluate.stats import (
    bootstrap_ci,
    paired_bootstrap,
    sign_flip_test,
    wilcoxon_p,
    win_loss,
)


def _paired(rng: np.random.Generator, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    difficulty = rng.normal(0.5, 0.2, n)  # shared per-example difficulty: what pairing removes
    return difficulty + rng.normal(0, 0.05, n), difficulty + shift + rng.normal(0, 0.05, n)


def test_ci_covers_the_true_difference_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(0)
    shift, trials, covered = 0.02, 120, 0
    for t in range(trials):
        a, b = _paired(rng, 150, shift)
        r = paired_bootstrap(a, b, n_resamples=500, seed=t)
        covered += r.low <= shift <= r.high
    assert 0.88 <= covered / trials <= 0.99


def test_p_value_small_for_a_real_shift_and_large_for_none() -> None:
    rng = np.random.default_rng(1)
    a, b = _paired(rng, 300, 0.03)
    real = paired_bootstrap(a, b, n_resamples=2000, seed=0)
    assert real.p_value < 0.01 and real.low > 0
    assert sign_flip_test(b - a, seed=0) < 0.01
    w = wilcoxon_p(b - a)
    assert w is not None and w < 0.01
    a0, b0 = _paired(rng, 300, 0.0)
    null = paired_bootstrap(a0, b0, n_resamples=2000, seed=0)
    assert null.p_value > 0.05 and null.low < 0 < null.high
    assert sign_flip_test(b0 - a0, seed=0) > 0.05


def test_seeded_resampling_is_deterministic() -> None:
    rng = np.random.default_rng(2)
    a, b = _paired(rng, 200, 0.01)
    assert paired_bootstrap(a, b, seed=5) == paired_bootstrap(a, b, seed=5)
    assert paired_bootstrap(a, b, seed=5) != paired_bootstrap(a, b, seed=6)
    assert bootstrap_ci(a, seed=1) == bootstrap_ci(a, seed=1)


def test_exact_sign_flip_for_small_samples() -> None:
    # 5 positive differences: only the all-plus and all-minus sign patterns are as extreme: 2/32
    assert sign_flip_test([1.0, 1.0, 1.0, 1.0, 1.0]) == pytest.approx(2 / 32)
    assert sign_flip_test([0.0, 0.0]) == 1.0


def test_bootstrap_of_a_corpus_metric_resamples_its_statistics() -> None:
    bleu = Bleu()
    preds = ["the cat sat on the mat", "a b c d", "hello world again", "x y z"] * 5
    refs = [["the cat is on the mat"], ["a b c e"], ["hello world"], ["x y z"]] * 5
    result = bleu.compute(MetricInputs(preds, refs))
    ci = bootstrap_ci(result.stats or [], bleu.corpus_from_stats, n_resamples=300)
    assert ci.estimate == pytest.approx(result.score)
    assert ci.low <= result.score <= ci.high
    same = paired_bootstrap(result.stats or [], result.stats or [], bleu.corpus_from_stats, n_resamples=200)
    assert same.delta == 0 and same.p_value == 1.0


def test_win_loss_respects_direction_and_skips_missing() -> None:
    wl = win_loss([1.0, 0.0, 0.5, None], [0.0, 1.0, 0.5, 1.0])
    assert (wl.wins, wl.losses, wl.ties) == ([1], [0], [2])
    latency = win_loss([100.0, 100.0], [50.0, 200.0], higher_is_better=False)
    assert (latency.wins, latency.losses) == ([0], [1])


def test_degenerate_inputs() -> None:
    with pytest.raises(InvalidInput):
        paired_bootstrap([], [])
    with pytest.raises(InvalidInput, match="same examples"):
        paired_bootstrap([1.0, 2.0], [1.0])
    one = paired_bootstrap([0.2], [0.5])
    assert one.delta == pytest.approx(0.3) and one.p_value == 1.0
    assert wilcoxon_p([0.0, 0.0]) is None
