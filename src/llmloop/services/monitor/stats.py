"""Two-sample tests for drift, as pure functions over arrays: no store, no model.

Every test returns a statistic and a p-value that is valid (``P(p <= a) <= a`` when nothing changed):

- ``ks_test``: Kolmogorov-Smirnov on a scalar (text length). Lengths are integers, so ties make the
  asymptotic p-value conservative, never liberal.
- ``mmd_test``: maximum mean discrepancy with a Gaussian kernel on embeddings, the bandwidth set by
  the median heuristic on the pooled sample (a function of the pool only, so permutations keep the
  test exact). The p-value counts the observed statistic among the permuted ones, ``(k + 1) / (n + 1)``,
  so it is never 0 (Alibi Detect omits the ``+ 1`` and can answer p = 0, SeldonIO/alibi-detect#960).
- ``classifier_auc``: a ridge classifier told to separate reference from current, scored out of fold;
  AUC 0.5 means indistinguishable. Its p-value is the Mann-Whitney normal approximation, a second
  opinion rather than an exact test (out-of-fold scores are not independent).
- ``topic_shift``: reference clusters (k-means), a chi-square test of the current window's cluster
  shares, with an extra "new" bin for texts far from every reference cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float


def ks_test(reference: Vector, current: Vector) -> TestResult:
    from scipy.stats import ks_2samp

    res = ks_2samp(reference, current, method="asymp")
    return TestResult(float(res.statistic), float(res.pvalue))


def _sq_dists(x: Matrix) -> Matrix:
    sq = np.einsum("ij,ij->i", x, x)
    d: Matrix = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    np.maximum(d, 0.0, out=d)
    return d


def gaussian_kernel(pool: Matrix) -> tuple[Matrix, float]:
    """The pooled Gram matrix and its bandwidth (median pairwise squared distance)."""
    d = _sq_dists(pool.astype(np.float32, copy=False))
    iu = np.triu_indices(d.shape[0], k=1)
    sample = d[iu]
    if sample.size > 200_000:  # the median of a fixed, seeded subsample is as good and far cheaper
        sample = np.random.default_rng(0).choice(sample, 200_000, replace=False)
    bandwidth = float(np.median(sample)) or 1.0
    return np.exp(-d / bandwidth).astype(np.float32), bandwidth


@dataclass(frozen=True)
class MMDResult(TestResult):
    permutations: int
    bandwidth: float
    witness: Vector  # per current point: how much closer it is to the current sample than to the reference


def mmd_test(reference: Matrix, current: Matrix, *, permutations: int, seed: int = 0) -> MMDResult:
    """Biased MMD² = aᵀKa with a = (1/n on reference, -1/m on current), permuted ``permutations`` times."""
    n, m = len(reference), len(current)
    kernel, bandwidth = gaussian_kernel(np.concatenate([reference, current]))
    weights = np.concatenate([np.full(n, 1.0 / n), np.full(m, -1.0 / m)]).astype(np.float32)
    observed = float(weights @ kernel @ weights)
    rng = np.random.default_rng(seed)
    exceed = 0
    chunk = 64
    for start in range(0, permutations, chunk):
        size = min(chunk, permutations - start)
        cols = np.stack([weights[rng.permutation(n + m)] for _ in range(size)], axis=1)
        stats = np.einsum("ij,ij->j", kernel @ cols, cols)
        exceed += int(np.sum(stats >= observed - 1e-12))
    k_cur = kernel[n:]
    witness = k_cur[:, n:].mean(axis=1) - k_cur[:, :n].mean(axis=1)
    return MMDResult(
        statistic=observed,
        p_value=(exceed + 1) / (permutations + 1),
        permutations=permutations,
        bandwidth=bandwidth,
        witness=witness.astype(np.float64),
    )


def auc(scores: Vector, labels: npt.NDArray[np.bool_]) -> float:
    """Area under the ROC curve by ranks (ties share their mean rank)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    pos = int(labels.sum())
    neg = len(labels) - pos
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def classifier_auc(reference: Matrix, current: Matrix, *, folds: int = 5, ridge: float = 1.0) -> TestResult:
    """Out-of-fold AUC of a ridge classifier separating current (1) from reference (0)."""
    from scipy.stats import norm

    x = np.concatenate([reference, current]).astype(np.float64)
    x = np.hstack([x, np.ones((len(x), 1))])
    y = np.concatenate([np.zeros(len(reference)), np.ones(len(current))])
    labels = y.astype(bool)
    order = np.random.default_rng(0).permutation(len(x))
    scores = np.empty(len(x))
    eye = ridge * np.eye(x.shape[1])
    for fold in np.array_split(order, folds):
        train = np.setdiff1d(order, fold, assume_unique=True)
        xt = x[train]
        w = np.linalg.solve(xt.T @ xt + eye, xt.T @ (2 * y[train] - 1))
        scores[fold] = x[fold] @ w
    value = auc(scores, labels)
    n1, n0 = len(current), len(reference)
    se = math.sqrt((n0 + n1 + 1) / (12.0 * n0 * n1))
    return TestResult(value, float(norm.sf((value - 0.5) / se)))


@dataclass(frozen=True)
class Clusters:
    """Reference clusters: centroids, the share of each plus the "new" bin (texts beyond ``radius``)."""

    centroids: Matrix
    shares: Vector
    radius: float
    n_calibration: int  # how many reference texts the shares were counted on


def fit_clusters(reference: Matrix, *, k: int, iterations: int = 25, seed: int = 0) -> Clusters:
    """Spherical k-means (embeddings are unit vectors, k-means++ seeding) fitted on half the reference;
    the shares and the "new" radius are measured on the other half, since texts the centroids were
    fitted on sit closer to them than fresh texts from the same distribution would."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(reference))
    fit, calibrate = reference[order[::2]], reference[order[1::2]]
    k = max(1, min(k, len(fit)))
    centroids = [fit[rng.integers(len(fit))]]
    for _ in range(1, k):
        sim = np.max(fit @ np.stack(centroids).T, axis=1)
        far = np.maximum(1.0 - sim, 0.0) ** 2
        total = far.sum()
        pick = rng.choice(len(fit), p=far / total) if total > 0 else rng.integers(len(fit))
        centroids.append(fit[pick])
    c = np.stack(centroids).astype(np.float32)
    for _ in range(iterations):
        assign = np.argmax(fit @ c.T, axis=1)
        for j in range(k):
            members = fit[assign == j]
            if len(members):
                v = members.mean(axis=0)
                c[j] = v / (np.linalg.norm(v) or 1.0)
    sims = calibrate @ c.T
    far = 1.0 - sims.max(axis=1)
    radius = float(np.quantile(far, 0.99))
    assign = np.argmax(sims, axis=1)
    assign[far > radius] = k
    shares = np.bincount(assign, minlength=k + 1) / len(calibrate)
    return Clusters(c, shares.astype(np.float64), radius, len(calibrate))


@dataclass(frozen=True)
class TopicShift(TestResult):
    current_shares: Vector  # one per reference cluster, then the "new" bin
    assignment: npt.NDArray[np.int64]  # per current text; k means "new"


def topic_shift(clusters: Clusters, current: Matrix) -> TopicShift:
    """Chi-square on (reference, current) counts over the clusters plus the "new" bin."""
    from scipy.stats import chi2_contingency

    sims = current @ clusters.centroids.T
    k = len(clusters.centroids)
    assign = np.argmax(sims, axis=1)
    assign[1.0 - sims.max(axis=1) > clusters.radius] = k
    cur = np.bincount(assign, minlength=k + 1).astype(np.float64)
    ref = np.round(clusters.shares * clusters.n_calibration)
    table = np.stack([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return TopicShift(0.0, 1.0, cur / max(cur.sum(), 1.0), assign)
    res = chi2_contingency(table)
    return TopicShift(float(res.statistic), float(res.pvalue), cur / cur.sum(), assign.astype(np.int64))
