"""The task metric on crafted answers: our format, the ways small models drift from it, and garbage."""

from __future__ import annotations

from typing import Any

import pytest

from llmloop.errors import InvalidInput
from llmloop.examples.travel.scoring import (
    check_constraints,
    constraint_satisfaction,
    parse_recommendation,
    recommendation_correct,
)

META: dict[str, Any] = {
    "task": "travel_recommendation",
    "template": "t01",
    "target": "Zermatt",
    "acceptable": ["Zermatt"],
    "options": ["Bali", "Zermatt", "Chamonix", "Cairns"],
    "preferences": {
        "activities": ["skiing"],
        "climate": "alpine",
        "budget": "luxury",
        "month": 1,
        "region": None,
        "party": "couple",
    },
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Recommendation: Zermatt, Switzerland\nWhy: skiing, alpine climate, luxury prices.", "Zermatt"),
        ("recommendation: zermatt, switzerland", "Zermatt"),
        ("RECOMMENDATION - ZERMATT", "Zermatt"),
        ("**Recommendation:** Zermatt (Switzerland)", "Zermatt"),
        ("Sure! Based on your wishes, I recommend Zermatt. It has great skiing.", "Zermatt"),
        ("I'd suggest visiting Zermatt in January.", "Zermatt"),
        ("I would recommend Zermatt over Chamonix.", "Zermatt"),
        ("My top pick is Zermatt, Switzerland.", "Zermatt"),
        ("The best match is Zermatt.", "Zermatt"),
        ("Zermatt, Switzerland", "Zermatt"),
        ("  zermatt  ", "Zermatt"),
        ("Recommendation: Zérmatt, Switzerland", "Zermatt"),
        ("Recommendation: Chiang Mai, Thailand", "Chiang Mai"),
        ("You should visit rio de janeiro!", "Rio de Janeiro"),
        ("Recommendation: Atlantis, Ocean\nWhy: mythical.", "Atlantis"),
        ("I recommend Narnia because it snows.", "Narnia"),
        ("", None),
        ("I'm not sure, all of them look nice.", None),
        ("!!!", None),
    ],
)
def test_parse_recommendation(text: str, expected: str | None) -> None:
    assert parse_recommendation(text) == expected


def test_the_format_line_wins_over_earlier_mentions() -> None:
    text = "Bali is lovely but not in January.\nRecommendation: Zermatt, Switzerland"
    assert parse_recommendation(text) == "Zermatt"
    assert recommendation_correct(text, META) == 1.0


def test_first_recommended_destination_is_the_one_scored() -> None:
    assert recommendation_correct("I recommend Chamonix, or maybe Zermatt.", META) == 0.0
    assert recommendation_correct("Zermatt or Chamonix would both work.", META) == 1.0


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("Recommendation: Zermatt, Switzerland\nWhy: skiing.", 1.0),
        ("I recommend zermatt!", 1.0),
        ("Recommendation: Bali, Indonesia\nWhy: beach.", 0.0),
        ("Recommendation: Chamonix, France", 0.0),
        ("Recommendation: Atlantis", 0.0),
        ("no idea", 0.0),
        ("", 0.0),
    ],
)
def test_recommendation_correct(text: str, score: float) -> None:
    assert recommendation_correct(text, META) == score


def test_names_outside_the_catalog_can_be_supplied() -> None:
    meta = {**META, "acceptable": ["Lake Placid"], "options": ["Lake Placid", "Bali"]}
    assert parse_recommendation("Go with Lake Placid.", ["Lake Placid"]) == "Lake Placid"
    assert recommendation_correct("I'd recommend lake placid", meta) == 1.0


def test_constraint_satisfaction_gives_partial_credit() -> None:
    # Four stated constraints: skiing, alpine, luxury, January.
    assert constraint_satisfaction("Recommendation: Zermatt", META) == 1.0
    chamonix = check_constraints("Recommendation: Chamonix, France", META)  # mid-range: misses budget only
    assert chamonix.destination == "Chamonix" and chamonix.violations == ("budget",)
    assert chamonix.satisfied_fraction == pytest.approx(0.75)
    bali = check_constraints("Recommendation: Bali", META)
    assert (
        bali.violations == ("activity:skiing", "climate", "budget", "month")
        and bali.satisfied_fraction == 0.0
    )
    assert check_constraints("Recommendation: Atlantis", META).violations == ("not_in_catalog",)
    assert check_constraints("hmm", META) == check_constraints("", META)
    assert check_constraints("", META).violations == ("unparsed",)


def test_malformed_metadata_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="acceptable"):
        recommendation_correct("Recommendation: Zermatt", {"options": []})
    with pytest.raises(InvalidInput, match="acceptable"):
        recommendation_correct("Recommendation: Zermatt", {"acceptable": "Zermatt"})
    with pytest.raises(InvalidInput, match="preferences"):
        constraint_satisfaction("Recommendation: Zermatt", {"acceptable": ["Zermatt"]})
