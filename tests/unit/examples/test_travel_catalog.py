"""The catalog is the ground truth's only source of facts, so its shape is checked, not assumed."""

from __future__ import annotations

import re

import pytest

from llmloop.errors import NotFound
from llmloop.examples.travel.catalog import (
    ACTIVITIES,
    BUDGETS,
    CLIMATES,
    DESTINATIONS,
    PARTIES,
    REGIONS,
    get_destination,
)


def _words(text: str) -> str:
    return " " + " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split()) + " "


def test_catalog_size_and_unique_names() -> None:
    names = [d.name for d in DESTINATIONS]
    assert 55 <= len(names) <= 75
    assert len(set(names)) == len(names)


def test_no_destination_name_hides_inside_another() -> None:
    # The scorer finds names as whole words; "Goa" inside another name would make it ambiguous.
    for a in DESTINATIONS:
        for b in DESTINATIONS:
            if a is not b:
                assert _words(a.name) not in _words(b.name), (a.name, b.name)


@pytest.mark.parametrize("destination", DESTINATIONS, ids=lambda d: d.name)
def test_every_entry_is_well_formed(destination: object) -> None:
    from llmloop.examples.travel.catalog import Destination

    assert isinstance(destination, Destination)
    d = destination
    assert d.climate in CLIMATES and d.budget in BUDGETS and d.region in REGIONS
    assert 2 <= len(d.activities) <= 4 and set(d.activities) <= set(ACTIVITIES)
    assert 2 <= len(d.best_months) <= 5 and all(1 <= m <= 12 for m in d.best_months)
    assert list(d.best_months) == sorted(set(d.best_months))
    assert d.suits and set(d.suits) <= set(PARTIES)
    assert 40 <= len(d.description) <= 140
    assert 2 <= len(d.reviews) <= 3 and all(1 <= r.stars <= 5 and r.text for r in d.reviews)


def test_every_vocabulary_value_is_used() -> None:
    # A value no destination has could be asked for but never answered.
    for attr, vocab in (("climate", CLIMATES), ("budget", BUDGETS), ("region", REGIONS)):
        assert {getattr(d, attr) for d in DESTINATIONS} == set(vocab)
    assert {a for d in DESTINATIONS for a in d.activities} == set(ACTIVITIES)
    assert {m for d in DESTINATIONS for m in d.best_months} == set(range(1, 13))


def test_get_destination() -> None:
    assert get_destination("Zermatt").country == "Switzerland"
    with pytest.raises(NotFound, match="Atlantis"):
        get_destination("Atlantis")
