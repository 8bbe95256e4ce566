"""Turn 2's drifted traffic: new wordings of the same catalogue, slices held out by signature."""

from __future__ import annotations

import random
from statistics import mean

import pytest

from llmloop.errors import InvalidInput
from llmloop.examples.travel.catalog import DESTINATIONS
from llmloop.examples.travel.dataset import generate_experiment, signature, split_of
from llmloop.examples.travel.drift import (
    DRIFT_TEMPLATES,
    FOCUSES,
    SLICES,
    Drift,
    DriftRow,
    generate_drift,
    render_drifted,
)
from llmloop.examples.travel.phrasing import TEMPLATES
from llmloop.examples.travel.rules import Preferences, violations


@pytest.fixture(scope="module")
def drift() -> Drift:
    return generate_drift(0, n_traffic=200, n_dev=100, n_test=200)


def test_slices_are_held_out_by_signature(drift: Drift) -> None:
    owners: dict[str, set[str]] = {}
    for name in SLICES:
        for r in drift.slice(name):
            owners.setdefault(signature(r.row.prefs), set()).add(name)
    assert all(len(s) == 1 for s in owners.values())
    # traffic (what feedback and training see) never asks turn 1's dev/test requests
    assert all(split_of(signature(r.row.prefs), 0) == "train" for r in drift.traffic)
    exp = generate_experiment(0, n_train=200, n_dev=100, n_test=300)
    original_test = {signature(r.prefs) for r in exp.test}
    assert not original_test & {signature(r.row.prefs) for r in drift.traffic}


def test_drifted_rows_use_only_new_wordings(drift: Drift) -> None:
    assert not {t.id for t in DRIFT_TEMPLATES} & {t.id for t in TEMPLATES}
    for r in [*drift.dev, *drift.test, *(t for t in drift.traffic if t.drifted)]:
        assert r.drifted and r.row.template in DRIFT_TEMPLATES
    originals = [t for t in drift.traffic if not t.drifted]
    assert originals and all(t.row.template in TEMPLATES for t in originals)
    share = sum(t.drifted for t in drift.traffic) / len(drift.traffic)
    assert share == pytest.approx(0.6, abs=0.01)
    requests = [r.row.request for name in SLICES for r in drift.slice(name)]
    assert len(set(requests)) == len(requests)


def test_synonyms_replace_turn_one_words() -> None:
    prefs = Preferences(activities=("beach", "hiking"), climate="tropical", budget="budget", month=3)
    text = render_drifted(DRIFT_TEMPLATES[0], prefs, random.Random(1))
    for word in ("beach", "hiking", "tropical climate", "budget"):
        assert word not in text.lower()
    assert "March" in text


def test_the_target_is_the_one_acceptable_option(drift: Drift) -> None:
    for r in drift.test:
        ok = [d.name for d in r.row.options if not violations(d, r.row.prefs)]
        assert ok == [r.row.target.name]
        rec = r.record()
        assert rec["reference"] == r.row.target.name and rec["split"] == "test"
        assert rec["metadata"]["drifted"] is True


def test_difficulty_is_matched_across_slices(drift: Drift) -> None:
    def profile(rows: list[DriftRow]) -> tuple[float, float]:
        constraints = mean(r.row.prefs.constraint_count for r in rows)
        near = mean(
            sum(1 for d in r.row.options if len(violations(d, r.row.prefs)) == 1) / (len(r.row.options) - 1)
            for r in rows
        )
        return constraints, near

    traffic = profile([r for r in drift.traffic if r.drifted])
    for name in ("dev", "test"):
        other = profile(drift.slice(name))
        assert abs(other[0] - traffic[0]) < 0.3
        assert abs(other[1] - traffic[1]) < 0.08


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    a = generate_drift(3, n_traffic=40, n_dev=10, n_test=10).records()
    b = generate_drift(3, n_traffic=40, n_dev=10, n_test=10).records()
    c = generate_drift(4, n_traffic=40, n_dev=10, n_test=10).records()
    assert a == b and a != c


def test_a_season_puts_every_drifted_request_in_its_months() -> None:
    summer = FOCUSES["summer"]
    drift = generate_drift(0, n_traffic=100, n_dev=60, n_test=60, focus="summer")
    places = {d.name for d in summer.destinations}
    assert 0 < len(places) < len(DESTINATIONS)
    drifted = [*drift.dev, *drift.test, *(t for t in drift.traffic if t.drifted)]
    for r in drifted:
        assert r.row.prefs.month in summer.months and r.row.target.name in places
        assert [d.name for d in r.row.options if not violations(d, r.row.prefs)] == [r.row.target.name]
    # distractors still come from the whole catalogue; the original-style traffic is not seasonal
    assert {d.name for r in drifted for d in r.row.options} - places
    originals = [t for t in drift.traffic if not t.drifted]
    assert any(t.row.target.name not in places for t in originals)
    assert drift.records() == generate_drift(0, n_traffic=100, n_dev=60, n_test=60, focus="summer").records()


def test_an_unknown_focus_names_the_field() -> None:
    with pytest.raises(InvalidInput) as err:
        generate_drift(0, n_traffic=10, n_dev=4, n_test=4, focus="monsoon")
    assert err.value.details["field"] == "focus"


def test_a_market_puts_every_drifted_answer_in_its_region() -> None:
    drift = generate_drift(0, n_traffic=60, n_dev=40, n_test=40, focus="asia")
    drifted = [*drift.dev, *drift.test, *(t for t in drift.traffic if t.drifted)]
    assert all(r.row.target.region == "Asia" for r in drifted)
    stated = sum(r.row.prefs.region is not None for r in drifted) / len(drifted)
    assert 0.3 < stated < 0.7  # said as often as turn 1 says a region, not always
    assert any(d.region != "Asia" for r in drifted for d in r.row.options)
