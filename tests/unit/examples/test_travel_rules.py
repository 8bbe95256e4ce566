"""The rule-based ground truth: constraints, the ranking rule, and common-sense sanity."""

from __future__ import annotations

import pytest

from llmloop.errors import InvalidInput
from llmloop.examples.travel.catalog import DESTINATIONS, get_destination
from llmloop.examples.travel.rules import Preferences, acceptable_names, recommend, score, violations


def test_luxury_skiing_in_winter_never_gets_a_tropical_beach() -> None:
    prefs = Preferences(activities=("skiing",), budget="luxury", month=1)
    ranked = recommend(prefs)
    good = [r.destination for r in ranked if r.acceptable]
    assert {d.name for d in good} >= {"Zermatt", "Aspen"}
    for d in good:
        assert "skiing" in d.activities and d.budget == "luxury" and 1 in d.best_months
        assert d.climate != "tropical" and "beach" not in d.activities
    assert ranked[0].destination.climate in {"alpine", "cold"}


def test_every_acceptable_destination_outranks_every_other() -> None:
    prefs = Preferences(activities=("beach", "diving"), climate="tropical", month=7, party="family")
    ranked = recommend(prefs)
    flags = [r.acceptable for r in ranked]
    assert any(flags) and not all(flags)
    assert flags == sorted(flags, reverse=True)
    assert [r.destination.name for r in ranked if r.acceptable] == acceptable_names(prefs)
    # Among wrong ones, fewer misses rank first.
    misses = [len(r.violations) for r in ranked]
    assert misses == sorted(misses)


def test_score_follows_the_documented_formula() -> None:
    zermatt = get_destination(
        "Zermatt"
    )  # alpine, luxury, skiing hiking food, Jan-Mar + Jul-Aug, couple friends
    prefs = Preferences(activities=("skiing", "beach"), climate="alpine", month=6, party="couple")
    ranked = score(zermatt, prefs)
    assert ranked.violations == ("activity:beach", "month")
    # met 2 (skiing, climate) - 3 * missed 2 + 0.5 party + 0.1 * mean stars 4.5
    assert ranked.score == pytest.approx(2 - 6 + 0.5 + 0.45)


def test_party_and_reviews_only_break_ties() -> None:
    prefs = Preferences(activities=("history",), party="family")
    ranked = [r for r in recommend(prefs) if r.acceptable]
    suits = [prefs.party in r.destination.suits for r in ranked]
    assert suits == sorted(suits, reverse=True)


def test_violation_labels_name_each_missed_constraint() -> None:
    bali = get_destination("Bali")
    prefs = Preferences(
        activities=("skiing", "beach"), climate="alpine", budget="luxury", month=1, region="Europe"
    )
    assert violations(bali, prefs) == ("activity:skiing", "climate", "budget", "month", "region")
    assert violations(bali, Preferences(activities=("beach",), region="Asia")) == ()


def test_preferences_round_trip_and_validation() -> None:
    prefs = Preferences(
        activities=("food",), climate="arid", budget="mid", month=3, region="Africa", party="solo"
    )
    assert Preferences.from_dict(prefs.to_dict()) == prefs
    assert prefs.constraint_count == 5
    with pytest.raises(InvalidInput, match="activity"):
        Preferences(activities=())
    with pytest.raises(InvalidInput, match="climate"):
        Preferences.from_dict({"activities": ["food"], "climate": "humid"})
    with pytest.raises(InvalidInput, match="month"):
        Preferences(activities=("food",), month=13)
    with pytest.raises(InvalidInput, match="weather"):
        Preferences.from_dict({"activities": ["food"], "weather": "hot"})
    with pytest.raises(InvalidInput, match="activities"):
        Preferences.from_dict({"activities": "food"})


def test_every_destination_is_its_own_best_match() -> None:
    for d in DESTINATIONS:
        prefs = Preferences(activities=d.activities, climate=d.climate, budget=d.budget, region=d.region)
        assert d.name in acceptable_names(prefs)
