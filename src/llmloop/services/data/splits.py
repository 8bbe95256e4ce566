"""Deterministic train/validation/test assignment, and leakage between splits.

A row's split depends only on its *key hash* (normalised prompt / input / chat turns) and the seed:
it is mapped to a uniform number in [0, 1) by splitmix64 and compared with the cumulative
fractions. So adding rows never moves an existing row, exact and near-duplicate prompts always land
together (no leakage by construction), and the same seed gives the same split on any machine.

Stratified splits (``stratify=``) rank a stratum's key groups by that number and cut at the exact
fractions, so each stratum is split in proportion; adding rows can then move a row next to a cut
(at most one key group per cut and stratum).
"""

from __future__ import annotations

import numpy as np

from llmloop.services.data.schemas import LeakagePair

_MASK = (1 << 64) - 1
_ORDER = {"train": 0, "training": 0, "validation": 1, "valid": 1, "val": 1, "dev": 1, "test": 2, "eval": 2}


def uniform(group: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of (group hash + seed * golden ratio), as floats in [0, 1)."""
    z = group.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z += np.uint64((seed * 0x9E3779B97F4A7C15) & _MASK)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def assign(
    group: np.ndarray, fractions: dict[str, float], seed: int, strata: np.ndarray | None = None
) -> np.ndarray:
    """The index (into ``fractions``' order) of each row's split."""
    cumulative = np.cumsum(np.array(list(fractions.values()), dtype=np.float64))
    cumulative[-1] = 1.0
    last = len(cumulative) - 1
    if strata is None:
        return np.minimum(np.searchsorted(cumulative, uniform(group, seed), side="right"), last)
    out = np.empty(len(group), dtype=np.int64)
    for stratum in np.unique(strata):
        idx = np.flatnonzero(strata == stratum)
        groups, inverse, counts = np.unique(group[idx], return_inverse=True, return_counts=True)
        order = np.argsort(uniform(groups, seed), kind="stable")
        ends = np.cumsum(counts[order])
        middles = (ends - counts[order] / 2.0) / len(idx)
        group_split = np.empty(len(groups), dtype=np.int64)
        group_split[order] = np.minimum(np.searchsorted(cumulative, middles, side="right"), last)
        out[idx] = group_split[inverse]
    return out


def ordered_names(names: list[str]) -> list[str]:
    return sorted(names, key=lambda n: (_ORDER.get(n.lower(), 3), n))


def cross_leakage(
    a_name: str, a_row: np.ndarray, a_key: np.ndarray, b_name: str, b_row: np.ndarray, b_key: np.ndarray
) -> LeakagePair:
    """How many rows of b also appear in a: exactly, and by normalised key."""
    return LeakagePair(
        a=a_name,
        b=b_name,
        exact=int(np.isin(b_row, a_row).sum()),
        key=int(np.isin(b_key, a_key).sum()),
    )


def leakage(labels: np.ndarray, row64: np.ndarray, key: np.ndarray) -> list[LeakagePair]:
    """Leakage between every pair of splits of one version, earlier split (train) first."""
    names = ordered_names([str(n) for n in np.unique(labels)])
    masks = {n: labels == n for n in names}
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            ma, mb = masks[a], masks[b]
            out.append(cross_leakage(a, row64[ma], key[ma], b, row64[mb], key[mb]))
    return out
