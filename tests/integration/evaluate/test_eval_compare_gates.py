"""Comparisons and gates over stored evaluations, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eval_fixtures import answering, write_suite

from llmloop.errors import InvalidInput
from llmloop.services.evaluate import service
from llmloop.services.evaluate.compare import compare_evaluations, diff_examples
from llmloop.services.evaluate.gates import check_gates, gate_suite, gates_for_promotion
from llmloop.services.evaluate.results import list_examples
from llmloop.services.evaluate.scoring import RATIONALE_CHARS
from llmloop.services.evaluate.suite import load_suite
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import RunSearch

WEAK = set(range(0, 40, 2))  # 50% right
STRONG = set(range(36))  # 90% right, and right wherever WEAK is right except 36, 38


@pytest.fixture
def two(ctx: Any, qa_suite: Path) -> tuple[Any, Any]:
    suite = load_suite(qa_suite)
    return (
        service.run_suite(ctx, suite=suite, model=answering(WEAK)),
        service.run_suite(ctx, suite=suite, model=answering(STRONG)),
    )


def test_compare_reports_deltas_cis_tests_and_wins(ctx: Any, two: tuple[Any, Any]) -> None:
    weak, strong = two
    c = compare_evaluations(ctx, ids=[weak.id, strong.id[:10]], write=False)
    (pair,) = c.pairs
    em = next(m for m in pair.metrics if m.key == "exact_match")
    assert (em.baseline, em.candidate, em.delta) == (
        pytest.approx(0.5),
        pytest.approx(0.9),
        pytest.approx(0.4),
    )
    assert em.ci_low is not None and em.ci_low > 0 and em.verdict == "better"
    assert (
        em.p_value is not None
        and em.p_value < 0.01
        and em.p_permutation is not None
        and em.p_permutation < 0.01
    )
    assert (em.wins, em.losses, em.ties) == (18, 2, 20)
    bleu = next(m for m in pair.metrics if m.key == "bleu")
    assert bleu.baseline == pytest.approx(weak.metrics["bleu"].score) and bleu.candidate == pytest.approx(
        strong.metrics["bleu"].score
    )
    assert {d.example_id for d in pair.top_losses} == {"q36", "q38"}
    assert pair.top_wins[0].baseline_output == "I do not know" and pair.n_paired == 40
    assert c.report_path is None


def test_compare_needs_completed_evaluations_with_shared_examples(
    ctx: Any, tmp_path: Path, two: tuple[Any, Any]
) -> None:
    weak, _ = two
    other = write_suite(tmp_path / "other")
    other.write_text(other.read_text().replace('"id": "q', '"id": "x'))
    (tmp_path / "other" / "qa.jsonl").write_text(
        (tmp_path / "other" / "qa.jsonl").read_text().replace('"id": "q', '"id": "x')
    )
    disjoint = service.run_suite(ctx, suite=load_suite(other), model=answering(WEAK))
    with pytest.raises(InvalidInput, match="share no examples"):
        compare_evaluations(ctx, ids=[weak.id, disjoint.id], write=False)
    with pytest.raises(InvalidInput, match="at least two"):
        compare_evaluations(ctx, ids=[weak.id], write=False)
    with pytest.raises(InvalidInput, match="named twice"):
        compare_evaluations(ctx, ids=[weak.id, weak.id[:8]], write=False)


def test_check_gates_pass_fail_and_comparative(ctx: Any, two: tuple[Any, Any]) -> None:
    weak, strong = two
    rules = [
        "exact_match >= 0.8",
        "exact_match not worse than champion by more than 0.01 (95% CI)",
        {"rule": "p95 latency <= 1ms", "required": False},
        "error_rate <= 0",
    ]
    from llmloop.services.evaluate.suite import GateSpec

    specs = [GateSpec.model_validate(r) if isinstance(r, dict) else r for r in rules]
    good = check_gates(ctx, rules=specs, candidate=strong.id, baseline=weak.id)
    assert good.passed, good.results
    assert [r.status for r in good.results][:2] == ["pass", "pass"] and good.results[3].status == "pass"
    bad = check_gates(ctx, rules=specs, candidate=weak.id, baseline=strong.id)
    assert not bad.passed and [r.status for r in bad.results][:2] == ["fail", "fail"]
    alone = check_gates(ctx, rules=specs[:2], candidate=strong.id)
    assert alone.passed and alone.results[1].status == "skipped"
    runs = tracking.search_runs(ctx, query=RunSearch(filter="tags.`llmloop.gate` = 'fail'")).items
    assert len(runs) == 1 and runs[0].kind == "gate" and runs[0].metrics["gate_passed"] == 0.0


def test_gate_errors_are_errors_not_failures(ctx: Any, two: tuple[Any, Any]) -> None:
    weak, _ = two
    with pytest.raises(InvalidInput, match="does not have"):
        check_gates(ctx, rules=["accuracy >= 0.5"], candidate=weak.id)
    with pytest.raises(InvalidInput, match="cannot read gate rule"):
        check_gates(ctx, rules=["exact_match => 0.5"], candidate=weak.id)
    with pytest.raises(InvalidInput, match="no gate rules"):
        check_gates(ctx, rules=[], candidate=weak.id)


def test_gate_suite_and_the_promotion_hook(ctx: Any, tmp_path: Path, model_module: str) -> None:
    suite_path = write_suite(
        tmp_path / "g",
        gates=["exact_match >= 0.8", "exact_match not worse than champion by more than 0.01 (95% CI)"],
    )
    suite = load_suite(suite_path)
    verdict = gate_suite(
        ctx, suite=suite, candidate=f"py:{model_module}:strong", baseline=f"py:{model_module}:weak"
    )
    assert verdict.passed and verdict.baseline_evaluation_id is not None
    failing = gate_suite(
        ctx, suite=suite, candidate=f"py:{model_module}:weak", baseline=f"py:{model_module}:strong"
    )
    assert not failing.passed
    first_promotion = gates_for_promotion(
        ctx, f"py:{model_module}:strong", suite=suite_path, baseline_ref=f"py:{model_module}:no_champion_yet"
    )
    assert first_promotion.passed and first_promotion.baseline_evaluation_id is None
    assert first_promotion.results[1].status == "skipped"


def test_a_suite_with_an_llm_judge_and_a_pairwise_judged_comparison(
    ctx: Any, tmp_path: Path, model_module: str
) -> None:
    suite_path = write_suite(tmp_path / "j")
    text = suite_path.read_text().replace(
        "  - latency\n",
        f"  - latency\n  - {{metric: llm_judge, key: judged, options: {{judge: 'py:{model_module}:grader'}}}}\n",
    )
    suite_path.write_text(text)
    suite = load_suite(suite_path)
    weak = service.run_suite(ctx, suite=suite, model=f"py:{model_module}:weak")
    strong = service.run_suite(ctx, suite=suite, model=f"py:{model_module}:strong")
    judged = weak.metrics["judged"]
    assert judged.score == pytest.approx(0.5) and judged.details["unparsed"] == 0
    c = compare_evaluations(ctx, ids=[weak.id, strong.id], write=False, judge=f"py:{model_module}:pair_judge")
    pw = c.pairs[0].pairwise
    assert pw is not None
    # strong alone is right on the 18 odd items below 36, weak alone on 36 and 38; on the other 20
    # (both right or both wrong) the biased judge says "A" in both orders -> position-inconsistent ties
    assert (pw["wins_b"], pw["wins_a"], pw["ties"], pw["inconsistent"]) == (18, 2, 20, 20)
    assert pw["candidate_win_rate"] == pytest.approx((18 + 10) / 40)
    assert pw["first_position_rate"] > 0.5

    # the judge's text for each answer is kept beside its score, clipped to RATIONALE_CHARS
    right, wrong = list_examples(ctx, evaluation_id=weak.id, limit=2).items  # q00 right, q01 wrong
    assert right.rationales == {"judged": "Names the item.\nScore: 5"}
    assert wrong.rationales == {"judged": ("Declines to answer. " * 300 + "\nScore: 1")[:RATIONALE_CHARS]}
    assert len(wrong.rationales["judged"]) == RATIONALE_CHARS
    # and shown on both sides of the diff: strong wins q01 (it answers, weak declines)
    wins = diff_examples(ctx, baseline=weak.id, candidate=strong.id, key="judged", outcome="wins", limit=1)
    (q01,) = wins.items
    assert q01.example_id == "q01" and q01.candidate_rationale == "Names the item.\nScore: 5"
    assert q01.baseline_rationale == wrong.rationales["judged"]


def test_the_diff_lists_every_win_loss_and_tie_in_pages_largest_change_first(
    ctx: Any, two: tuple[Any, Any]
) -> None:
    weak, strong = two
    # strong alone is right on the 18 odd items below 36 (wins), weak alone on 36 and 38 (losses)
    seen: list[str] = []
    token = None
    while True:
        page = diff_examples(
            ctx,
            baseline=weak.id,
            candidate=strong.id,
            key="exact_match",
            outcome="wins",
            limit=5,
            page_token=token,
        )
        assert page.total == 18 and len(page.items) <= 5
        assert all(x.outcome == "win" and (x.baseline_score, x.candidate_score) == (0, 1) for x in page.items)
        seen += [x.example_id for x in page.items]
        token = page.next_page_token
        if token is None:
            break
    assert seen == [f"q{i:02d}" for i in range(1, 36, 2)]  # equal changes: in the baseline's order
    losses = diff_examples(ctx, baseline=weak.id, candidate=strong.id, key="exact_match", outcome="losses")
    assert [x.example_id for x in losses.items] == ["q36", "q38"] and losses.next_page_token is None
    assert (
        losses.items[0].baseline_output == "answer 36" and losses.items[0].candidate_output == "I do not know"
    )
    assert losses.items[0].baseline_rationale is None  # no judge in this suite
    ties = diff_examples(ctx, baseline=weak.id, candidate=strong.id, key="exact_match", outcome="ties")
    assert ties.total == 20
    # the counts agree with the comparison's, and the default metric is the comparison's primary one
    everything = diff_examples(ctx, baseline=weak.id, candidate=strong.id, limit=1000)
    assert everything.key == "exact_match" and everything.total == 40
    outcomes = [x.outcome for x in everything.items]
    assert (outcomes.count("win"), outcomes.count("loss"), outcomes.count("tie")) == (18, 2, 20)
    assert outcomes[:20].count("tie") == 0  # the 20 changed examples come before the 20 unchanged
    # lower latency is a win: the direction follows the metric
    fast = diff_examples(ctx, baseline=weak.id, candidate=strong.id, key="latency", outcome="all", limit=1000)
    for x in fast.items:
        assert x.baseline_score is not None and x.candidate_score is not None
        expected = (
            "win"
            if x.candidate_score < x.baseline_score
            else "loss"
            if x.candidate_score > x.baseline_score
            else "tie"
        )
        assert x.outcome == expected or abs(x.candidate_score - x.baseline_score) <= 1e-9

    for kwargs, field in (
        ({"outcome": "best"}, "outcome"),
        ({"key": "nope"}, "key"),
        ({"limit": 0}, "limit"),
        ({"page_token": "garbage"}, "page_token"),
    ):
        with pytest.raises(InvalidInput) as err:
            diff_examples(ctx, baseline=weak.id, candidate=strong.id, **kwargs)
        assert err.value.details["field"] == field
    assert all(x.rationales == {} for x in list_examples(ctx, evaluation_id=weak.id, limit=3).items)
