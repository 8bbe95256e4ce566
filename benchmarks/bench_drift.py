"""Drift detection: calibration (false-positive rate, power) at n = 500 and speed at 2,000 vs 2,000.

    python benchmarks/bench_drift.py [--trials 200] [--power-trials 50] [--speed-n 2000]
    python benchmarks/run.py --only drift

Texts are the travel example's requests (what a user types before the option list). Unshifted
trials draw a reference and a current sample of 500 each, disjoint, from one pool of training-split
requests; shifted trials replace 10% of the current sample with a new topic (customer-service
complaints) or with evaluation-split requests, whose templates (ways of asking) and destinations the
training split never uses. The many trials reuse
one embedding of the pool (as a monitor reuses its cached embeddings); MMD runs with 199
permutations, p = (k + 1) / (n + 1), judged at alpha = 0.05.

Speed: ``ll.monitoring.drift`` semantics (``method="auto"``: MMD + length KS + classifier AUC +
topic shares) on an empty store (every text embedded: cold) and again on the same store (every
embedding read back by content hash, the reference statistics kept: warm).

Evidently and Alibi Detect are not run here (they are not installed in this environment); the
table leaves their column empty rather than guess.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _report
import numpy as np
from _report import Row

N = 500


class _Pool:
    """An embedder answering from vectors computed once."""

    def __init__(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        self.model_id, self.vectors = model_id, vectors

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)


def _requests(n_usual: int, n_new: int, seed: int = 0) -> tuple[list[str], list[str]]:
    from llmloop.examples.travel.generate import generate

    gen = generate(seed, n_sft=n_usual, n_pref=0, n_eval=n_new)
    cut = "\nOptions:"
    return [e.user.split(cut)[0] for e in gen.sft], [e.user.split(cut)[0] for e in gen.eval]


_ISSUES = (
    "my flight was cancelled",
    "the hotel charged my card twice",
    "my passport expires next month",
    "the airline lost my suitcase",
    "I need to change the name on my ticket",
    "the train strike ruined day two",
)
_ASKS = ("how do I get a refund?", "who do I call?", "what are my rights?", "can you fix it today?",
         "is there a form to fill in?", "will insurance cover it?")  # fmt: skip


def _new_topic(n: int, seed: int = 0) -> list[str]:
    """Customer-service complaints: a topic the recommendation traffic never has."""
    rng = np.random.default_rng(seed)
    return [
        f"Booking {rng.integers(1000, 9999)}: {_ISSUES[rng.integers(len(_ISSUES))]}, {_ASKS[rng.integers(len(_ASKS))]}"
        for _ in range(n)
    ]


def _power(
    drift: Any, pool: _Pool, usual: list[str], other: list[str], trials: int, offset: int
) -> float | None:
    """Share of trials in which 10% of the current sample drawn from ``other`` is flagged at 0.05."""
    found = 0
    for seed in range(trials):
        rng = np.random.default_rng([7, offset + seed])
        order = rng.permutation(len(usual))
        ref = [usual[i] for i in order[:N]]
        cur = [usual[i] for i in order[N : 2 * N - N // 10]] + [
            other[i] for i in rng.permutation(len(other))[: N // 10]
        ]
        r = drift.detect(
            None, reference=ref, current=cur, method="mmd", permutations=199, seed=seed, embedder=pool
        )
        found += r.p_value < 0.05
    return found / trials if trials else None


def calibration(trials: int, power_trials: int) -> dict[str, Any]:
    from llmloop.services.monitor import drift
    from llmloop.services.prompts.embeddings import MiniLMEmbedder

    usual, new = _requests(2 * N + 200, N)
    topic = _new_topic(N)
    minilm = MiniLMEmbedder()
    texts = sorted(set(usual + new + topic))
    t0 = time.perf_counter()
    pool = _Pool(minilm.model_id, dict(zip(texts, minilm.encode(texts), strict=True)))
    embed_s = time.perf_counter() - t0
    flagged, p_null = 0, []
    t0 = time.perf_counter()
    for seed in range(trials):
        order = np.random.default_rng([7, seed]).permutation(
            len(usual)
        )  # apart from the permutations' stream
        ref, cur = [usual[i] for i in order[:N]], [usual[i] for i in order[N : 2 * N]]
        r = drift.detect(
            None, reference=ref, current=cur, method="mmd", permutations=199, seed=seed, embedder=pool
        )
        flagged += r.p_value < 0.05
        p_null.append(r.p_value)
    null_s = (time.perf_counter() - t0) / max(trials, 1)
    power_new_way = _power(drift, pool, usual, new, power_trials, 10_000)
    power_topic = _power(drift, pool, usual, topic, power_trials, 20_000)
    return {
        "trials": trials,
        "fpr": flagged / trials if trials else None,
        "power_trials": power_trials,
        "power_new_topic": power_topic,
        "power_new_way_of_asking": power_new_way,
        "pool_embed_s": embed_s,
        "texts_embedded": len(texts),
        "seconds_per_trial": null_s,
        "null_p_mean": float(np.mean(p_null)) if p_null else None,
    }


def speed(n: int) -> dict[str, Any]:
    from llmloop.config import Settings
    from llmloop.context import local_context
    from llmloop.services.monitor import drift
    from llmloop.services.monitor.schemas import DriftRequest
    from llmloop.services.monitor.service import detect_drift

    usual, _ = _requests(2 * n, 0)
    reference, current = usual[:n], usual[n : 2 * n]
    with tempfile.TemporaryDirectory(
        prefix="llmloop-bench-drift-", dir=os.environ.get("LLMLOOP_BENCH_TMPDIR")
    ) as t:
        ctx = local_context(Settings(home=Path(t)))  # type: ignore[call-arg]
        request = DriftRequest(reference=reference, current=current, method="auto")
        from llmloop.services.prompts.embeddings import default_embedder

        t0 = time.perf_counter()
        default_embedder().encode(["load the model"])
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cold = detect_drift(ctx, request=request)
        cold_s = time.perf_counter() - t0
        warm_runs = _report.seconds(lambda: detect_drift(ctx, request=request), repeat=3)
        drift._references.clear()  # a new process: only the store's cache is left
        t0 = time.perf_counter()
        detect_drift(ctx, request=request)
        store_only_s = time.perf_counter() - t0
    return {
        "n": n,
        "model_load_s": load_s,
        "cold_s": cold_s,
        "warm_s": _report.median(warm_runs),
        "warm_runs_s": warm_runs,
        "store_cache_only_s": store_only_s,
        "cold_p_value": cold.p_value,
        "permutations": cold.tests[0].detail.get("permutations"),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=200, help="unshifted trials (false-positive rate)")
    ap.add_argument("--power-trials", type=int, default=50, help="10%%-shifted trials (power)")
    ap.add_argument("--speed-n", type=int, default=2000, help="texts per side for the speed run")
    args = ap.parse_args(argv)
    cal = calibration(args.trials, args.power_trials)
    fast = speed(args.speed_n)
    rows = [
        Row(f"false-positive rate at alpha=0.05, {args.trials} unshifted trials, n={N} vs {N}", "rate", cal["fpr"],
            higher_is_better=False, target_max=0.06),
        Row(f"power at alpha=0.05, 10% of traffic shifted to a new topic, {args.power_trials} trials", "rate",
            cal["power_new_topic"]),
        Row(f"power at alpha=0.05, 10% of traffic shifted to a new way of asking, {args.power_trials} trials", "rate",
            cal["power_new_way_of_asking"]),
        Row(f"{args.speed_n} vs {args.speed_n} texts, method=auto, cold (every text embedded)", "s", fast["cold_s"],
            higher_is_better=False, target_max=45.0),
        Row(f"{args.speed_n} vs {args.speed_n} texts, warm (embeddings and reference cached)", "s", fast["warm_s"],
            higher_is_better=False, target_max=2.0),
        Row("same, a new process (embeddings read from the store by content hash)", "s", fast["store_cache_only_s"],
            higher_is_better=False),
    ]  # fmt: skip
    notes = [
        "Power target: >= 0.9 (the issue's, for a new topic); each power row is the fraction of shifted trials with "
        "p < 0.05. New topic: customer-service complaints (a synthetic topic the travel traffic never has). New way "
        "of asking: the travel generator's evaluation-only templates and destinations, still recommendation requests.",
        f"Calibration embedded {cal['texts_embedded']} distinct requests once ({cal['pool_embed_s']:.1f} s); "
        f"each trial then took {cal['seconds_per_trial'] * 1000:.0f} ms (MMD, 199 permutations, n={N} vs {N}).",
        f"Speed: loading all-MiniLM-L6-v2 took {fast['model_load_s']:.1f} s before the cold run (not counted); "
        f"MMD used {fast['permutations']} permutations (enough for alpha=0.05).",
        "Evidently and Alibi Detect: not run (not installed in this environment).",
    ]
    return {
        "title": "Drift detection: calibration and speed (llmloop; peers not run)",
        "ours": "llmloop",
        "peer": "none",
        "rows": rows,
        "notes": notes,
        "raw": {"calibration": cal, "speed": fast},
    }


if __name__ == "__main__":
    t0 = time.perf_counter()
    result = main(sys.argv[1:])
    print(json.dumps(result["raw"], indent=1), file=sys.stderr)
    result["duration_s"] = time.perf_counter() - t0
    result["machine"] = _report.machine()
    _, md = _report.write("drift", result)
    print(md.read_text())
