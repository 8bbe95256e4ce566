"""LLM-as-judge: score and verdict parsing on good, messy and garbage answers; grading; pairwise order control."""

from __future__ import annotations

from typing import Any

import pytest

import llmloop as ll
from llmloop.services.evaluate.judge import grade, judge_pairwise, parse_score, parse_verdict


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Score: 4/5", 4.0),
        ("score: 4", 4.0),
        ("The answer is fine.\nRating: **3** out of 5", 3.0),
        ('{"score": 5, "reason": "correct"}', 5.0),
        ('Here you go: ```json\n{"rating": 2}\n```', 2.0),
        ("[[4]]", 4.0),
        ("4", 4.0),
        ("  5. ", 5.0),
        ("I'd say 8/10", 4.0),  # other denominators are rescaled to the scale's max
        ("Score: 2\n...on reflection, Score: 3", 3.0),  # the last verdict wins
        ("Score is 4.5", 4.5),
    ],
)
def test_parse_score_good_and_messy(text: str, expected: float) -> None:
    assert parse_score(text, low=1, high=5) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "I cannot grade this.",
        "Score: 9",
        "Score: 0",
        "The answer mentions 1999 events.",
        '{"score": "great"}',
        "NaN",
    ],
)
def test_parse_score_garbage_is_none(text: str) -> None:
    assert parse_score(text, low=1, high=5) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Winner: A", "A"),
        ("After comparing... Winner: **B**", "B"),
        ("Winner: tie", "tie"),
        ("[[A]]", "A"),
        ('{"winner": "b"}', "B"),
        ("Answer A is better because...", "A"),
        ("B", "B"),
        ("both are bad", None),
        ("", None),
    ],
)
def test_parse_verdict(text: str, expected: str | None) -> None:
    assert parse_verdict(text) == expected


def test_grade_counts_garbage_and_judge_errors_without_crashing() -> None:
    answers = iter(["Score: 5", "no idea", "Score: 1"])

    def judge(batch: list[Any], **params: Any) -> list[str]:
        if len(batch) > 1:
            raise RuntimeError("judge only takes one at a time")  # forces the per-example fallback
        text = batch[0][0]["content"]
        if "boom" in text:
            raise RuntimeError("judge down")
        return [next(answers)]

    g = grade(judge, inputs=["q1", "q2", "q3", "q4"], predictions=["a", "b", "boom", "c"])
    assert g.scores == [5.0, None, None, 1.0]
    assert g.unparsed == 1 and g.judge_errors == 1


def test_llm_judge_metric_rescales_to_fractions() -> None:
    def judge(batch: list[Any], **params: Any) -> list[str]:
        return [
            "Score: 5" if "Paris" in m[0]["content"] else "Score: 1" if "Rome" in m[0]["content"] else "??"
            for m in batch
        ]

    r = ll.metrics.compute("llm_judge", predictions=["Paris", "Rome", "x"], inputs=["q"] * 3, judge=judge)
    assert r.per_example == [1.0, 0.0, None]
    assert r.details["unparsed"] == 1 and r.score == 0.5


def test_rubric_placeholders_are_filled_without_format_injection() -> None:
    seen: list[str] = []

    def judge(batch: list[Any], **params: Any) -> list[str]:
        seen.extend(m[0]["content"] for m in batch)
        return ["Score: 3"] * len(batch)

    grade(
        judge,
        inputs=["Q {0} {x}"],
        predictions=["A {prediction}"],
        rubric="q={input} a={prediction} r={reference} /{max}",
    )
    assert seen == ["q=Q {0} {x} a=A {prediction} r= /5"]


def _first_slot_judge(batch: list[Any], **params: Any) -> list[str]:
    return ["Winner: A"] * len(batch)


def _fair_judge(batch: list[Any], **params: Any) -> list[str]:
    out = []
    for m in batch:
        text = m[0]["content"]
        a = text.split("Answer A:\n")[1].split("\n\nAnswer B:")[0]
        out.append("Winner: A" if "good" in a else "Winner: B")
    return out


def test_pairwise_position_bias_cancels_out() -> None:
    r = judge_pairwise(_first_slot_judge, inputs=["q"] * 4, answers_a=["x"] * 4, answers_b=["y"] * 4)
    assert r.wins_a == r.wins_b == 0 and r.ties == 4 and r.inconsistent == 4
    assert r.first_position_rate == 1.0
    assert r.win_rate_a == 0.5


def test_pairwise_consistent_judge_picks_the_better_answer_in_both_orders() -> None:
    r = judge_pairwise(
        _fair_judge, inputs=["q"] * 3, answers_a=["good", "bad", "good"], answers_b=["bad", "good", "bad"]
    )
    assert r.outcomes == ["a", "b", "a"]
    assert r.inconsistent == 0 and r.first_position_rate == 0.5
    assert r.win_rate_a == pytest.approx(2 / 3)
