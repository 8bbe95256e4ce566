"""Compare evaluations of two or more models on the same suite: deltas with CIs, tests, wins and losses.

The first evaluation is the baseline; every other one is compared with it on the examples both
answered (paired by example id). For each metric both have:

* delta = candidate - baseline on the paired examples, with a paired bootstrap CI and p-value;
  corpus metrics (BLEU, chrF, perplexity) are resampled through their per-example statistics, so
  the interval is around the corpus-level difference the table shows;
* the sign-flip permutation p-value and the Wilcoxon p-value on per-example differences;
* per-example wins, losses and ties (direction-aware: lower latency is a win), listed in full,
  paged and filtered, by ``diff_examples``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llmloop.context import Context
from llmloop.errors import InvalidInput, LlmloopError
from llmloop.services.evaluate.generation import Generator
from llmloop.services.evaluate.judge import judge_pairwise
from llmloop.services.evaluate.metrics.registry import get_metric
from llmloop.services.evaluate.results import ExampleTable, example_table
from llmloop.services.evaluate.schemas import (
    Comparison,
    DiffOutcome,
    ExampleDiff,
    ExampleDiffPage,
    MetricAggregate,
    MetricDelta,
    PairComparison,
)
from llmloop.services.evaluate.seams import load_generator
from llmloop.services.evaluate.stats import Corpus, paired_bootstrap, sign_flip_test, wilcoxon_p, win_loss
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import RunCreate
from llmloop.store import pages

TOP_EXAMPLES = 5


@dataclass(frozen=True)
class CompareSettings:
    n_resamples: int = 2000
    confidence: float = 0.95
    seed: int = 0


def _corpus_fn(table: ExampleTable, key: str) -> Corpus | None:
    """The metric's corpus function, rebuilt from the suite config stored with the evaluation."""
    agg = table.evaluation.metrics[key]
    specs = table.evaluation.params.get("metric_options") or []
    options: dict[str, Any] = next(
        (m.get("options", {}) for m in specs if (m.get("key") or m.get("metric")) == key), {}
    )
    try:
        metric = get_metric(agg.metric, **options)
    except (LlmloopError, TypeError):
        return None
    return metric.corpus_from_stats


def _verdict(low: float | None, high: float | None, higher_is_better: bool) -> str:
    if low is None or high is None:
        return "not comparable"
    if low > 0:
        return "better" if higher_is_better else "worse"
    if high < 0:
        return "worse" if higher_is_better else "better"
    return "no significant difference"


def paired_indices(base: ExampleTable, cand: ExampleTable) -> tuple[list[int], list[int]]:
    where = {eid: i for i, eid in enumerate(cand.example_ids)}
    ia, ib = [], []
    for i, eid in enumerate(base.example_ids):
        j = where.get(eid)
        if j is not None:
            ia.append(i)
            ib.append(j)
    return ia, ib


def metric_delta(
    base: ExampleTable,
    cand: ExampleTable,
    key: str,
    ia: Sequence[int],
    ib: Sequence[int],
    settings: CompareSettings,
) -> MetricDelta:
    agg: MetricAggregate = base.evaluation.metrics[key]
    hib = agg.higher_is_better
    sa = [base.scores[key][i] for i in ia]
    sb = [cand.scores[key][j] for j in ib]
    stats_a, stats_b = base.stats.get(key), cand.stats.get(key)
    corpus = _corpus_fn(base, key) if stats_a is not None and stats_b is not None else None
    if corpus is not None and stats_a is not None and stats_b is not None:
        ma = np.asarray([stats_a[i] for i in ia], dtype=float)
        mb = np.asarray([stats_b[j] for j in ib], dtype=float)
    else:
        both = [(x, y) for x, y in zip(sa, sb, strict=True) if x is not None and y is not None]
        ma = np.asarray([x for x, _ in both], dtype=float)[:, None]
        mb = np.asarray([y for _, y in both], dtype=float)[:, None]
        corpus = None
    n = int(ma.shape[0])
    wl = win_loss(sa, sb, higher_is_better=hib)
    diffs = [y - x for x, y in zip(sa, sb, strict=True) if x is not None and y is not None]
    if n == 0:
        return MetricDelta(
            key=key, higher_is_better=hib, scale=agg.scale, baseline=None, candidate=None, delta=None,
            ci_low=None, ci_high=None, confidence=settings.confidence, p_value=None, n=0, verdict="not comparable",
        )  # fmt: skip
    fn = corpus or (lambda sums, k: sums[:, 0] / k)
    test = paired_bootstrap(
        ma, mb, corpus, n_resamples=settings.n_resamples, confidence=settings.confidence, seed=settings.seed
    )
    baseline_score = float(fn(ma.sum(axis=0, keepdims=True), n)[0])
    candidate_score = float(fn(mb.sum(axis=0, keepdims=True), n)[0])
    return MetricDelta(
        key=key,
        higher_is_better=hib,
        scale=agg.scale,
        baseline=_clean(baseline_score),
        candidate=_clean(candidate_score),
        delta=_clean(test.delta),
        ci_low=_clean(test.low),
        ci_high=_clean(test.high),
        confidence=settings.confidence,
        p_value=_clean(test.p_value),
        p_permutation=sign_flip_test(diffs, seed=settings.seed) if diffs else None,
        p_wilcoxon=wilcoxon_p(diffs),
        wins=len(wl.wins),
        losses=len(wl.losses),
        ties=len(wl.ties),
        n=n,
        verdict=_verdict(test.low, test.high, hib),
    )


def _clean(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _primary_key(table: ExampleTable) -> str | None:
    """The metric the example diffs are ranked by: the first quality metric of the suite."""
    for key, agg in table.evaluation.metrics.items():
        if agg.higher_is_better and agg.metric not in ("latency", "output_tokens", "token_cost"):
            return key
    return next(iter(table.evaluation.metrics), None)


_LABEL = {"wins": "win", "losses": "loss", "ties": "tie"}
DIFF_LISTING = "example diffs"


def _ranked(
    base: ExampleTable,
    cand: ExampleTable,
    key: str,
    ia: Sequence[int],
    ib: Sequence[int],
    outcome: DiffOutcome,
) -> list[tuple[int, str]]:
    """(position in the pairing, outcome label) of the paired examples that ``outcome`` selects.

    Labels come from ``win_loss``, the same call that counts a ``MetricDelta``'s wins, losses and
    ties, so a listing of wins holds exactly ``wins`` examples. Largest change first, then the
    baseline's order; unscored examples (either side has no score) come last, in ``all`` only.
    """
    sa = [base.scores[key][i] for i in ia]
    sb = [cand.scores[key][j] for j in ib]
    wl = win_loss(sa, sb, higher_is_better=base.evaluation.metrics[key].higher_is_better)
    labels = ["unscored"] * len(ia)
    for positions, label in ((wl.wins, "win"), (wl.losses, "loss"), (wl.ties, "tie")):
        for p in positions:
            labels[p] = label
    picked = [p for p, label in enumerate(labels) if outcome == "all" or label == _LABEL[outcome]]

    def change(p: int) -> float:
        x, y = sa[p], sb[p]
        return -1.0 if x is None or y is None else abs(y - x)

    picked.sort(key=lambda p: (-change(p), p))
    return [(p, labels[p]) for p in picked]


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:2000]


def _diff(base: ExampleTable, cand: ExampleTable, key: str, i: int, j: int, label: str) -> ExampleDiff:
    return ExampleDiff(
        example_id=base.example_ids[i],
        key=key,
        baseline_score=base.scores[key][i],
        candidate_score=cand.scores[key][j],
        input=base.inputs[i][:2000],
        baseline_output=_clip(base.outputs[i]),
        candidate_output=_clip(cand.outputs[j]),
        outcome=label,
        baseline_rationale=base.rationales[i].get(key),
        candidate_rationale=cand.rationales[j].get(key),
    )


def _top(
    base: ExampleTable, cand: ExampleTable, key: str, ia: Sequence[int], ib: Sequence[int], *, wins: bool
) -> list[ExampleDiff]:
    ranked = _ranked(base, cand, key, ia, ib, "wins" if wins else "losses")[:TOP_EXAMPLES]
    return [_diff(base, cand, key, ia[p], ib[p], label) for p, label in ranked]


def diff_examples(
    ctx: Context,
    *,
    baseline: str,
    candidate: str,
    key: str | None = None,
    outcome: DiffOutcome = "all",
    limit: int = 50,
    page_token: str | None = None,
) -> ExampleDiffPage:
    """Every paired example of baseline vs candidate on metric ``key`` whose outcome is ``outcome``.

    The full listing behind a comparison's ``top_wins``/``top_losses`` (same ranking, same default
    metric), largest change first. Offset pages: the order is a computed score difference, and
    completed evaluations never change, so an offset always lands on the same example.
    """
    if outcome not in ("wins", "losses", "ties", "all"):
        raise InvalidInput(
            f"outcome must be wins, losses, ties or all, got {str(outcome)[:40]!r}",
            details={"field": "outcome"},
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidInput(f"limit must be 1 to 1000, got {limit!r}", details={"field": "limit"})
    offset = pages.decode(page_token, DIFF_LISTING).offset
    base, cand = load_tables(ctx, [baseline, candidate])
    ia, ib = paired_indices(base, cand)
    keys = [k for k in base.evaluation.metrics if k in cand.evaluation.metrics]
    if key is None:
        primary = _primary_key(base)
        key = primary if primary in keys else next(iter(keys), None)
    if key not in keys:
        raise InvalidInput(
            f"metric {str(key)[:80]!r} is not in both evaluations; they share {keys}",
            details={"field": "key"},
        )
    ranked = _ranked(base, cand, key, ia, ib, outcome)
    window = ranked[offset : offset + limit]
    more = offset + limit < len(ranked)
    return ExampleDiffPage(
        baseline_id=base.evaluation.id,
        candidate_id=cand.evaluation.id,
        key=key,
        outcome=outcome,
        items=[_diff(base, cand, key, ia[p], ib[p], label) for p, label in window],
        total=len(ranked),
        next_page_token=pages.encode(DIFF_LISTING, offset=offset + limit) if more else None,
    )


def _pairwise(
    judge: Generator, base: ExampleTable, cand: ExampleTable, ia: Sequence[int], ib: Sequence[int]
) -> dict[str, Any]:
    """Judge baseline against candidate on the paired examples, in both orders (see ``judge.judge_pairwise``)."""
    result = judge_pairwise(
        judge,
        inputs=[base.inputs[i] for i in ia],
        answers_a=[base.outputs[i] or "" for i in ia],
        answers_b=[cand.outputs[j] or "" for j in ib],
    )
    out = result.to_dict()
    out["candidate_win_rate"] = None if result.win_rate_a is None else 1.0 - result.win_rate_a
    return out


def compare_pair(
    base: ExampleTable, cand: ExampleTable, settings: CompareSettings, *, judge: Generator | None = None
) -> PairComparison:
    ia, ib = paired_indices(base, cand)
    if not ia:
        raise InvalidInput(
            f"evaluations {base.evaluation.id[:12]} and {cand.evaluation.id[:12]} share no examples; "
            "compare evaluations of the same suite",
            details={"baseline": base.evaluation.id, "candidate": cand.evaluation.id},
        )
    keys = [k for k in base.evaluation.metrics if k in cand.evaluation.metrics]
    if not keys:
        raise InvalidInput("the evaluations share no metric", details={"baseline": base.evaluation.id})
    primary = _primary_key(base)
    primary = primary if primary in keys else keys[0]
    return PairComparison(
        baseline_id=base.evaluation.id,
        candidate_id=cand.evaluation.id,
        baseline_model=base.evaluation.model_ref,
        candidate_model=cand.evaluation.model_ref,
        n_paired=len(ia),
        only_baseline=len(base.example_ids) - len(ia),
        only_candidate=len(cand.example_ids) - len(ib),
        baseline_error_rate=base.evaluation.error_rate,
        candidate_error_rate=cand.evaluation.error_rate,
        metrics=[metric_delta(base, cand, k, ia, ib, settings) for k in keys],
        top_wins=_top(base, cand, primary, ia, ib, wins=True),
        top_losses=_top(base, cand, primary, ia, ib, wins=False),
        pairwise=_pairwise(judge, base, cand, ia, ib) if judge is not None else None,
    )


def load_tables(ctx: Context, ids: Sequence[str]) -> list[ExampleTable]:
    if len(ids) < 2:
        raise InvalidInput("a comparison needs at least two evaluations", details={"ids": list(ids)})
    tables = [example_table(ctx, evaluation_id=i) for i in ids]
    full = [t.evaluation.id for t in tables]
    if len(set(full)) != len(full):
        raise InvalidInput("the same evaluation is named twice", details={"ids": list(ids)})
    return tables


def compare_evaluations(
    ctx: Context,
    *,
    ids: Sequence[str],
    settings: CompareSettings | None = None,
    report_dir: Path | None = None,
    write: bool = True,
    judge: str | Generator | None = None,
) -> Comparison:
    """Compare evaluations (the first is the baseline); with ``write``, also the report and its artifacts.

    The report goes to ``report_dir`` (default ``$LLMLOOP_HOME/reports/compare-<ids>``) and is
    stored as artifacts of a tracking run of kind ``eval-compare`` in the baseline's project. With
    ``judge`` (a model reference or callable), each pair is also judged pairwise in both orders.
    """
    settings = settings or CompareSettings()
    tables = load_tables(ctx, ids)
    base = tables[0]
    judge_fn = (
        load_generator(ctx, judge, project=base.evaluation.project).generate if judge is not None else None
    )
    pairs = [compare_pair(base, cand, settings, judge=judge_fn) for cand in tables[1:]]
    comparison = Comparison(
        evaluation_ids=[t.evaluation.id for t in tables], suite=base.evaluation.suite, pairs=pairs
    )
    if not write:
        return comparison
    from llmloop.services.evaluate.report import write_report

    folder = report_dir or ctx.settings.home / "reports" / (
        "compare-" + "-".join(t.evaluation.id[:8] for t in tables)
    )
    run = tracking.create_run(
        ctx,
        spec=RunCreate(
            project=base.evaluation.project,
            name=f"compare {base.evaluation.suite}"[:256],
            kind="eval-compare",
            params={f"evaluation.{i}": t.evaluation.id for i, t in enumerate(tables)},
            tags={"llmloop.suite": base.evaluation.suite},
        ),
    )
    comparison = comparison.model_copy(update={"report_path": str(folder.resolve()), "report_run_id": run.id})
    try:
        files = write_report(comparison, tables, folder)
        for f in files:
            tracking.log_artifact(ctx, run_id=run.id, path=f, name=f.name)
    except BaseException:
        tracking.end_run(ctx, run_id=run.id, status="failed")
        raise
    tracking.end_run(ctx, run_id=run.id, status="finished")
    return comparison
