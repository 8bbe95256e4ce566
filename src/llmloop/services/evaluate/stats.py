"""Statistics for comparing models on the same examples: paired bootstrap CIs, paired tests, wins/losses.

Everything is paired: model A and model B answered the same examples, so we resample *examples*
(rows), keep both models' values of a row together, and look at the difference. That removes the
between-example variance that dominates LLM evaluations and makes small real gains visible.

* ``bootstrap_ci``: percentile bootstrap interval of one model's corpus score.
* ``paired_bootstrap``: interval of score(B) - score(A) and a two-sided p-value (the shifted
  bootstrap test: how often a resampled difference is at least as far from the observed one as
  the observed one is from zero).
* ``sign_flip_test``: the paired permutation test on per-example differences (exact for n <= 16).
* ``wilcoxon_p``: the Wilcoxon signed-rank test via SciPy, when SciPy is installed.

Values are per-example *statistics* (n x k) and a corpus function of their sums over a sample of
n examples (see ``metrics.base``); for averaged metrics k = 1 and the corpus function is sum / n.
Resampling is seeded and vectorised in chunks, so 2,000 resamples of 10,000 examples take well
under a second and the same seed always gives the same interval.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from llmloop.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
Corpus = Callable[[FloatArray, int], FloatArray]
_CHUNK_CELLS = 4_000_000


def _mean(sums: FloatArray, n: int) -> FloatArray:
    return sums[:, 0] / n


def _as_matrix(values: Sequence[float] | Sequence[Sequence[float]] | FloatArray) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InvalidInput("statistics must be a list of numbers or of equal-length number lists")
    return arr


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    confidence: float
    n: int


@dataclass(frozen=True)
class PairedComparison:
    """score(B) - score(A) with its interval and p-value; positive means B is higher."""

    delta: float
    low: float
    high: float
    p_value: float
    confidence: float
    n: int


def _resampled(stats: Sequence[FloatArray], corpus: Corpus, n_resamples: int, seed: int) -> list[FloatArray]:
    """Corpus scores of ``n_resamples`` bootstrap samples, the same row indices for every input."""
    n = stats[0].shape[0]
    width = sum(s.shape[1] for s in stats)
    chunk = max(1, min(n_resamples, _CHUNK_CELLS // max(1, n * width)))
    rng = np.random.default_rng(seed)
    outs: list[list[FloatArray]] = [[] for _ in stats]
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        idx = rng.integers(0, n, size=(size, n))
        for out, s in zip(outs, stats, strict=True):
            out.append(corpus(s[idx].sum(axis=1), n))
        done += size
    return [np.concatenate(o) for o in outs]


def _check(n: int, confidence: float, n_resamples: int) -> None:
    if n == 0:
        raise InvalidInput("no examples to compute statistics on")
    if not 0 < confidence < 1:
        raise InvalidInput(f"confidence must be between 0 and 1, got {confidence}")
    if n_resamples < 1:
        raise InvalidInput("n_resamples must be >= 1")


def bootstrap_ci(
    values: Sequence[float] | Sequence[Sequence[float]] | FloatArray,
    corpus: Corpus | None = None,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of a corpus score (default: the mean)."""
    stats = _as_matrix(values)
    n = stats.shape[0]
    _check(n, confidence, n_resamples)
    fn = corpus or _mean
    estimate = float(fn(stats.sum(axis=0, keepdims=True), n)[0])
    if n == 1:
        return Interval(estimate, estimate, estimate, confidence, 1)
    (scores,) = _resampled([stats], fn, n_resamples, seed)
    alpha = (1 - confidence) / 2
    low, high = np.nanquantile(scores, [alpha, 1 - alpha])
    return Interval(estimate, float(low), float(high), confidence, n)


def paired_bootstrap(
    a: Sequence[float] | Sequence[Sequence[float]] | FloatArray,
    b: Sequence[float] | Sequence[Sequence[float]] | FloatArray,
    corpus: Corpus | None = None,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Interval and two-sided p-value for score(B) - score(A) on paired examples."""
    sa, sb = _as_matrix(a), _as_matrix(b)
    if sa.shape[0] != sb.shape[0]:
        raise InvalidInput(f"paired statistics need the same examples: {sa.shape[0]} vs {sb.shape[0]}")
    n = sa.shape[0]
    _check(n, confidence, n_resamples)
    fn = corpus or _mean
    delta = float(fn(sb.sum(axis=0, keepdims=True), n)[0] - fn(sa.sum(axis=0, keepdims=True), n)[0])
    if n == 1:
        return PairedComparison(delta, delta, delta, 1.0, confidence, 1)
    ra, rb = _resampled([sa, sb], fn, n_resamples, seed)
    diffs = rb - ra
    alpha = (1 - confidence) / 2
    low, high = np.nanquantile(diffs, [alpha, 1 - alpha])
    if delta == 0:
        p = 1.0
    else:
        extreme = int(np.sum(np.abs(diffs - delta) >= abs(delta)))
        p = (extreme + 1) / (n_resamples + 1)
    return PairedComparison(delta, float(low), float(high), min(1.0, p), confidence, n)


def sign_flip_test(
    differences: Sequence[float] | FloatArray, *, n_permutations: int = 10000, seed: int = 0
) -> float:
    """Two-sided paired permutation test of mean difference = 0 (random sign flips; exact for n <= 16)."""
    d = np.asarray(differences, dtype=np.float64)
    n = d.size
    if n == 0:
        raise InvalidInput("no examples to test")
    observed = abs(d.mean())
    if observed == 0:
        return 1.0
    tol = 1e-12 * max(1.0, observed)
    if n <= 16:
        signs = np.array(list(itertools.product((-1.0, 1.0), repeat=n)))
        means = np.abs(signs @ d) / n
        return float(np.mean(means >= observed - tol))
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_permutations, _CHUNK_CELLS // n))
    extreme = done = 0
    while done < n_permutations:
        size = min(chunk, n_permutations - done)
        signs = rng.choice((-1.0, 1.0), size=(size, n))
        extreme += int(np.sum(np.abs(signs @ d) / n >= observed - tol))
        done += size
    return (extreme + 1) / (n_permutations + 1)


def wilcoxon_p(differences: Sequence[float] | FloatArray) -> float | None:
    """Wilcoxon signed-rank p-value, or None without SciPy or when every difference is zero."""
    d = np.asarray(differences, dtype=np.float64)
    if d.size == 0 or not np.any(d != 0):
        return None
    try:
        from scipy.stats import wilcoxon
    except ImportError:
        return None
    result = wilcoxon(d, zero_method="wilcox")
    p = float(result.pvalue)
    return None if math.isnan(p) else p


@dataclass(frozen=True)
class WinLoss:
    """Per-example comparison of B against A: indices where B is better, worse, or equal."""

    wins: list[int]
    losses: list[int]
    ties: list[int]


def win_loss(
    a: Sequence[float | None],
    b: Sequence[float | None],
    *,
    higher_is_better: bool = True,
    tolerance: float = 1e-9,
) -> WinLoss:
    """Where B wins, loses and ties against A; examples missing a value on either side are skipped."""
    if len(a) != len(b):
        raise InvalidInput(f"win/loss needs the same examples: {len(a)} vs {len(b)}")
    wins: list[int] = []
    losses: list[int] = []
    ties: list[int] = []
    sign = 1.0 if higher_is_better else -1.0
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x is None or y is None:
            continue
        diff = sign * (y - x)
        (wins if diff > tolerance else losses if diff < -tolerance else ties).append(i)
    return WinLoss(wins, losses, ties)


def percentile(values: Sequence[float | None], q: float) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.percentile(np.asarray(present, dtype=float), q)) if present else None
