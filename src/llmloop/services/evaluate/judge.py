"""LLM-as-judge: a rubric, any generator as the judge, robust parsing, and pairwise judging in both orders.

Judges answer in every shape: ``Score: 4/5``, ``{"score": 4}``, ``Rating: **4** out of 5``,
``[[4]]``, a bare ``4``, or an essay with no number at all. ``parse_score`` tries the shapes from
the most explicit to the least and returns None for garbage; callers count those and report
them, they never crash an evaluation. Out-of-range numbers are garbage too.

Pairwise judging asks twice with the answers swapped. A verdict counts only when both orders
agree; disagreement is a tie and is reported as position-inconsistent, so a judge that always
prefers the first slot cannot make either model win.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from llmloop.errors import InvalidInput
from llmloop.services.evaluate.generation import Generator, Messages, generate_all

DEFAULT_RUBRIC = """You are grading an assistant's answer.

Question:
{input}

Reference answer (may be empty):
{reference}

Assistant's answer:
{prediction}

Rate the answer from {min} (wrong or unhelpful) to {max} (correct, complete and helpful).
Explain briefly, then end with a last line of the form "Score: N"."""

PAIRWISE_RUBRIC = """You are comparing two answers to the same question.

Question:
{input}

Answer A:
{answer_a}

Answer B:
{answer_b}

Which answer is more correct and helpful? Explain briefly, then end with a last line that is
exactly one of: "Winner: A", "Winner: B", "Winner: tie"."""

_NUM = r"([-+]?\d+(?:\.\d+)?)"
_LABELLED = re.compile(
    r"(?:score|rating|grade|mark)\s*(?:is|of|=|:)?\s*[*_`\"']*\s*" + _NUM + r"\s*[*_`\"']*"
    r"(?:\s*(?:/|out\s+of)\s*" + _NUM + r")?",
    re.IGNORECASE,
)
_BRACKETED = re.compile(r"\[\[\s*" + _NUM + r"\s*\]\]")
_FRACTION = re.compile(_NUM + r"\s*(?:/|out\s+of)\s*" + _NUM, re.IGNORECASE)
_BARE = re.compile(r"^\s*[*_`\"']*" + _NUM + r"[*_`\"'.]*\s*$")
_JSON = re.compile(r"\{[^{}]*\}", re.DOTALL)
_SCORE_KEYS = ("score", "rating", "grade")


def _in_range(value: float, low: float, high: float) -> float | None:
    return value if low <= value <= high else None


def _scaled(num: str, den: str | None, high: float) -> float:
    value = float(num)
    if den is not None and float(den) > 0 and float(den) != high:
        value = value / float(den) * high
    return value


def parse_score(text: str, *, low: float = 1, high: float = 5) -> float | None:
    """The judge's score in [low, high], or None when the answer holds no usable score."""
    if not isinstance(text, str) or not text.strip():
        return None
    for blob in reversed(_JSON.findall(text)):
        try:
            obj = json.loads(blob)
        except ValueError:
            continue
        if isinstance(obj, dict):
            for key in _SCORE_KEYS:
                v = obj.get(key)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    return _in_range(float(v), low, high)
                if isinstance(v, str):
                    inner = parse_score(v, low=low, high=high)
                    if inner is not None:
                        return inner
    labelled = _LABELLED.findall(text)
    if labelled:
        num, den = labelled[-1]
        return _in_range(_scaled(num, den or None, high), low, high)
    bracketed = _BRACKETED.findall(text)
    if bracketed:
        return _in_range(float(bracketed[-1]), low, high)
    fractions = _FRACTION.findall(text)
    if fractions:
        num, den = fractions[-1]
        return _in_range(_scaled(num, den, high), low, high)
    bare = _BARE.match(text)
    if bare:
        return _in_range(float(bare.group(1)), low, high)
    return None


Verdict = Literal["A", "B", "tie"]
_WINNER = re.compile(
    r"(?:winner|verdict|better(?:\s+answer)?)\s*(?:is|:|=)?\s*[*_`\"'\[]*\s*(A|B|tie)\b", re.IGNORECASE
)
_DOUBLE = re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.IGNORECASE)
_ANSWER_IS_BETTER = re.compile(r"\banswer\s+(A|B)\s+is\s+(?:better|more)", re.IGNORECASE)


def _verdict(token: str) -> Verdict:
    t = token.strip().lower()
    return "A" if t == "a" else "B" if t == "b" else "tie"


def parse_verdict(text: str) -> Verdict | None:
    """'A', 'B' or 'tie' from a pairwise judge's answer; None when it says none of them clearly."""
    if not isinstance(text, str) or not text.strip():
        return None
    for blob in reversed(_JSON.findall(text)):
        try:
            obj = json.loads(blob)
        except ValueError:
            continue
        if (
            isinstance(obj, dict)
            and isinstance(obj.get("winner"), str)
            and obj["winner"].strip().lower() in {"a", "b", "tie"}
        ):
            return _verdict(obj["winner"])
    for pattern in (_WINNER, _DOUBLE, _ANSWER_IS_BETTER):
        found = pattern.findall(text)
        if found:
            return _verdict(found[-1])
    stripped = text.strip().strip("*_`\"'.").lower()
    if stripped in {"a", "b", "tie"}:
        return _verdict(stripped)
    return None


def fill(template: str, values: dict[str, Any]) -> str:
    """Replace ``{name}`` placeholders without ``str.format``, so braces in answers are harmless."""
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", "" if value is None else str(value))
    return out


RubricRenderer = Callable[[dict[str, Any]], Messages]


def rubric_renderer(rubric: str | RubricRenderer | None, *, default: str) -> RubricRenderer:
    if callable(rubric):
        return rubric
    text = rubric or default
    return lambda values: [{"role": "user", "content": fill(text, values)}]


@dataclass
class Grades:
    """Single-answer grades: ``scores[i]`` in [low, high] or None (garbage or judge error)."""

    scores: list[float | None]
    raw: list[str | None]
    unparsed: int
    judge_errors: int


def grade(
    judge: Generator,
    *,
    inputs: Sequence[str],
    predictions: Sequence[str],
    references: Sequence[str | None] | None = None,
    rubric: str | RubricRenderer | None = None,
    low: float = 1,
    high: float = 5,
    params: dict[str, Any] | None = None,
    batch_size: int = 8,
) -> Grades:
    """Ask ``judge`` to grade every answer against the rubric and parse its scores."""
    if low >= high:
        raise InvalidInput(f"judge scale must have min < max, got {low}..{high}", details={"option": "scale"})
    render = rubric_renderer(rubric, default=DEFAULT_RUBRIC)
    refs = references if references is not None else [None] * len(predictions)
    prompts = [
        render({"input": i, "prediction": p, "reference": r or "", "min": _fmt(low), "max": _fmt(high)})
        for i, p, r in zip(inputs, predictions, refs, strict=True)
    ]
    outcomes = generate_all(judge, prompts, params=params or {"temperature": 0.0}, batch_size=batch_size)
    scores: list[float | None] = []
    unparsed = errors = 0
    for o in outcomes:
        if o.text is None:
            errors += 1
            scores.append(None)
            continue
        s = parse_score(o.text, low=low, high=high)
        unparsed += s is None
        scores.append(s)
    return Grades(scores, [o.text for o in outcomes], unparsed, errors)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


Outcome = Literal["a", "b", "tie"]


@dataclass
class PairwiseResult:
    """Pairwise verdicts over both orders. ``outcomes[i]`` is 'a', 'b', 'tie' or None (unusable)."""

    outcomes: list[Outcome | None]
    wins_a: int
    wins_b: int
    ties: int
    inconsistent: int
    unparsed: int
    first_position_rate: float | None
    raw: list[tuple[str | None, str | None]] = field(default_factory=list)

    @property
    def win_rate_a(self) -> float | None:
        """Share of usable examples A wins, ties counted half."""
        n = self.wins_a + self.wins_b + self.ties
        return None if n == 0 else (self.wins_a + 0.5 * self.ties) / n

    def to_dict(self) -> dict[str, Any]:
        return {
            "wins_a": self.wins_a,
            "wins_b": self.wins_b,
            "ties": self.ties,
            "inconsistent": self.inconsistent,
            "unparsed": self.unparsed,
            "win_rate_a": self.win_rate_a,
            "first_position_rate": self.first_position_rate,
        }


def judge_pairwise(
    judge: Generator,
    *,
    inputs: Sequence[str],
    answers_a: Sequence[str],
    answers_b: Sequence[str],
    rubric: str | RubricRenderer | None = None,
    params: dict[str, Any] | None = None,
    batch_size: int = 8,
) -> PairwiseResult:
    """Judge A against B on every example, once in each order, and combine the two verdicts."""
    render = rubric_renderer(rubric, default=PAIRWISE_RUBRIC)
    n = len(inputs)
    if not (len(answers_a) == len(answers_b) == n):
        raise InvalidInput("pairwise judging needs as many answers of A and B as inputs")
    forward = [
        render({"input": i, "answer_a": a, "answer_b": b})
        for i, a, b in zip(inputs, answers_a, answers_b, strict=True)
    ]
    swapped = [
        render({"input": i, "answer_a": b, "answer_b": a})
        for i, a, b in zip(inputs, answers_a, answers_b, strict=True)
    ]
    gen_params = params or {"temperature": 0.0}
    first = generate_all(judge, forward, params=gen_params, batch_size=batch_size)
    second = generate_all(judge, swapped, params=gen_params, batch_size=batch_size)
    outcomes: list[Outcome | None] = []
    wins_a = wins_b = ties = inconsistent = unparsed = 0
    first_slot = decided = 0
    for o1, o2 in zip(first, second, strict=True):
        v1 = parse_verdict(o1.text) if o1.text is not None else None
        v2 = parse_verdict(o2.text) if o2.text is not None else None
        if v1 is None or v2 is None:
            unparsed += 1
            outcomes.append(None)
            continue
        for v in (v1, v2):
            if v != "tie":
                decided += 1
                first_slot += v == "A"
        # map both verdicts to the answers' own names: in the swapped order slot A holds answer b
        m1: Outcome = "a" if v1 == "A" else "b" if v1 == "B" else "tie"
        m2: Outcome = "b" if v2 == "A" else "a" if v2 == "B" else "tie"
        if m1 == m2:
            result = m1
        else:
            result = "tie"
            inconsistent += 1
        outcomes.append(result)
        wins_a += result == "a"
        wins_b += result == "b"
        ties += result == "tie"
    return PairwiseResult(
        outcomes=outcomes,
        wins_a=wins_a,
        wins_b=wins_b,
        ties=ties,
        inconsistent=inconsistent,
        unparsed=unparsed,
        first_position_rate=None if decided == 0 else first_slot / decided,
        raw=[(a.text, b.text) for a, b in zip(first, second, strict=True)],
    )
