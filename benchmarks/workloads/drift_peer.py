"""A drift peer's side of ``bench_drift``: the same MMD test on the same embedding vectors, timed per check.

    python drift_peer.py '{"tool": "alibi" | "evidently", "mode": "speed", "data": "/path/vectors.npz",
                           "sizes": [250, 500], "permutations": 199, "repeat": 3}'
    python drift_peer.py '{"tool": ..., "mode": "calibration", "data": "/path/trials.npz",
                           "kinds": ["unshifted", ...], "permutations": 199}'

Runs in the peer's own venv (``benchmarks/.peers/<peer>``), on vectors ``bench_drift`` wrote from
the ones it tests itself.

``speed``: ``data`` holds ``usual`` (rows of the usual traffic's embeddings) and ``topic`` (a new
topic's). For each size n: reference ``usual[:n]``; current ``usual[n:2n]`` (unshifted) or
``usual[n:2n - n//10]`` + ``topic[:n//10]`` (10% shifted), the samples llmloop tests too. Each
check builds the detector and tests the current sample, timed together (as a monitor calls it on
each new window); the first check of a size is a warm-up. Prints the version and, per size and
condition, the median seconds, the drift flag and the p-value where the tool gives one.

``calibration``: ``data`` holds ``vectors`` (one row per distinct text) and, for the k-th kind of
trial, ``ref{k}`` / ``cur{k}`` (one row of vector indices per trial): the calibration samples
llmloop tested. Prints the version, each kind's drift flags in trial order, and how many p-values
were exactly 0 (a permutation p-value without the observed statistic can be).
"""

from __future__ import annotations

import importlib.metadata
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

Check = Callable[[np.ndarray, np.ndarray], dict[str, Any]]


def alibi(permutations: int) -> tuple[str, Check]:
    from alibi_detect.cd import MMDDrift

    def check(ref: np.ndarray, cur: np.ndarray) -> dict[str, Any]:
        detector = MMDDrift(ref, backend="pytorch", p_val=0.05, n_permutations=permutations, device="cpu")
        got = detector.predict(cur)["data"]
        return {
            "drift": bool(got["is_drift"]),
            "p_value": float(got["p_val"]),
            "score": float(got["distance"]),
        }

    return importlib.metadata.version("alibi-detect"), check


def evidently(permutations: int) -> tuple[str, Check]:
    """Evidently's embeddings MMD drift method with its bootstrap test, called directly: its
    ``EmbeddingsDriftMetric`` in a Report runs the same method and also a t-SNE for its plot, which
    costs minutes at these sizes. ``quantile_probability=0.95``: drift when the statistic exceeds
    the 95th percentile of its bootstrap null, a test at alpha = 0.05 (its default, 0.05, would
    flag above the 5th percentile)."""
    import pandas as pd
    from evidently.legacy.metrics.data_drift.embedding_drift_methods import mmd

    method = mmd(bootstrap=True, quantile_probability=0.95)

    def check(ref: np.ndarray, cur: np.ndarray) -> dict[str, Any]:
        cols = [f"e{i}" for i in range(ref.shape[1])]
        score, drift, _ = method(pd.DataFrame(cur, columns=cols), pd.DataFrame(ref, columns=cols))
        return {"drift": bool(drift), "p_value": None, "score": float(score)}

    return importlib.metadata.version("evidently"), check


def calibration(check: Check, data: Any, kinds: list[str]) -> dict[str, Any]:
    vectors = data["vectors"].astype(np.float32)
    flags: dict[str, list[bool]] = {}
    zero = 0
    for k, kind in enumerate(kinds):
        flags[kind] = []
        for ref, cur in zip(data[f"ref{k}"], data[f"cur{k}"], strict=True):
            got = check(vectors[ref], vectors[cur])
            flags[kind].append(got["drift"])
            zero += got["p_value"] == 0.0
    return {"calibration": flags, "zero_p_values": zero}


def speed(check: Check, data: Any, sizes: list[int], repeat: int) -> dict[str, Any]:
    usual, topic = data["usual"].astype(np.float32), data["topic"].astype(np.float32)
    out: list[dict[str, Any]] = []
    for n in sizes:
        ref = usual[:n]
        currents = {
            "unshifted": usual[n : 2 * n],
            "shifted": np.concatenate([usual[n : 2 * n - n // 10], topic[: n // 10]]),
        }
        for condition, cur in currents.items():
            check(ref, cur)  # warm-up: imports, kernels, allocations
            times, got = [], {}
            for _ in range(repeat):
                t0 = time.perf_counter()
                got = check(ref, cur)
                times.append(time.perf_counter() - t0)
            out.append({"n": n, "condition": condition, "seconds": statistics.median(times), **got})
    return {"results": out}


def main() -> None:
    cfg: dict[str, Any] = json.loads(sys.argv[1])
    version, check = {"alibi": alibi, "evidently": evidently}[cfg["tool"]](cfg["permutations"])
    data = np.load(cfg["data"])
    if cfg["mode"] == "calibration":
        got = calibration(check, data, cfg["kinds"])
    else:
        got = speed(check, data, cfg["sizes"], cfg["repeat"])
    print(json.dumps({"version": version, **got}))


if __name__ == "__main__":
    main()
