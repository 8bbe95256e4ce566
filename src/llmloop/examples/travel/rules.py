"""The rule-based ground truth: which destinations satisfy a traveller's preferences, and in what order.

The rule, in full (it is short on purpose, so a person can check any label by hand):

* Every stated preference except the party is a hard constraint: each requested activity must be
  offered, and climate, budget level, region must equal the stated value, and the stated month must be
  one of the destination's best months. A destination that meets all of them is *acceptable*.
* ``score = met - 3 * missed + 0.5 * (suits the party) + 0.1 * mean review stars``.
  The soft part is at most 1.0 and each missed constraint costs 4 points, so ranking by score puts
  every acceptable destination first; the party and the reviews only break ties.
* Equal scores are ordered by name, so the ranking is total and deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from llmloop.errors import InvalidInput
from llmloop.examples.travel.catalog import (
    ACTIVITIES,
    BUDGETS,
    CLIMATES,
    DESTINATIONS,
    PARTIES,
    REGIONS,
    Activity,
    Budget,
    Climate,
    Destination,
    Party,
    Region,
)

MISS_PENALTY = 3.0
PARTY_BONUS = 0.5
RATING_WEIGHT = 0.1


@dataclass(frozen=True)
class Preferences:
    """What a traveller asked for; ``None`` means "not stated". ``month`` is 1-12."""

    activities: tuple[Activity, ...]
    climate: Climate | None = None
    budget: Budget | None = None
    month: int | None = None
    region: Region | None = None
    party: Party | None = None

    def __post_init__(self) -> None:
        if not self.activities:
            raise InvalidInput(
                "travel preferences need at least one activity", details={"field": "activities"}
            )
        _check("activities", self.activities, ACTIVITIES)
        _check("climate", (self.climate,), CLIMATES)
        _check("budget", (self.budget,), BUDGETS)
        _check("region", (self.region,), REGIONS)
        _check("party", (self.party,), PARTIES)
        if self.month is not None and not (isinstance(self.month, int) and 1 <= self.month <= 12):
            raise InvalidInput(f"month must be 1-12, got {self.month!r}", details={"field": "month"})

    @property
    def constraint_count(self) -> int:
        """How many hard constraints the preferences state (each activity counts once)."""
        optional = (self.climate, self.budget, self.month, self.region)
        return len(self.activities) + sum(v is not None for v in optional)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in eval metadata; every key present, unstated ones as null."""
        return {
            "activities": list(self.activities),
            "climate": self.climate,
            "budget": self.budget,
            "month": self.month,
            "region": self.region,
            "party": self.party,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preferences:
        """Inverse of :meth:`to_dict`; unknown keys or values are ``InvalidInput``."""
        unknown = sorted(set(data) - {"activities", "climate", "budget", "month", "region", "party"})
        if unknown:
            raise InvalidInput(f"unknown travel preference key {unknown[0]!r}", details={"field": unknown[0]})
        activities = data.get("activities")
        if not isinstance(activities, list | tuple):
            raise InvalidInput(
                "travel preferences need an 'activities' list", details={"field": "activities"}
            )
        return cls(
            activities=tuple(cast("list[Activity]", activities)),
            climate=data.get("climate"),
            budget=data.get("budget"),
            month=data.get("month"),
            region=data.get("region"),
            party=data.get("party"),
        )


def _check(field: str, values: Iterable[object], allowed: tuple[str, ...]) -> None:
    for value in values:
        if value is not None and value not in allowed:
            raise InvalidInput(
                f"unknown {field} {value!r}; expected one of {', '.join(allowed)}",
                details={"field": field, "value": value},
            )


def violations(destination: Destination, prefs: Preferences) -> tuple[str, ...]:
    """The stated constraints ``destination`` misses, as labels: ``activity:skiing``, ``climate``, …"""
    missed = [f"activity:{a}" for a in prefs.activities if a not in destination.activities]
    if prefs.climate is not None and destination.climate != prefs.climate:
        missed.append("climate")
    if prefs.budget is not None and destination.budget != prefs.budget:
        missed.append("budget")
    if prefs.month is not None and prefs.month not in destination.best_months:
        missed.append("month")
    if prefs.region is not None and destination.region != prefs.region:
        missed.append("region")
    return tuple(missed)


@dataclass(frozen=True)
class Ranked:
    destination: Destination
    score: float
    violations: tuple[str, ...]

    @property
    def acceptable(self) -> bool:
        return not self.violations


def score(destination: Destination, prefs: Preferences) -> Ranked:
    """Apply the rule in the module docstring to one destination."""
    missed = violations(destination, prefs)
    met = prefs.constraint_count - len(missed)
    value = met - MISS_PENALTY * len(missed) + RATING_WEIGHT * destination.rating
    if prefs.party is not None and prefs.party in destination.suits:
        value += PARTY_BONUS
    return Ranked(destination, round(value, 6), missed)


def recommend(prefs: Preferences, destinations: Iterable[Destination] = DESTINATIONS) -> list[Ranked]:
    """Rank ``destinations`` (the whole catalog by default) best first; acceptable ones lead."""
    return sorted((score(d, prefs) for d in destinations), key=lambda r: (-r.score, r.destination.name))


def acceptable_names(prefs: Preferences, destinations: Iterable[Destination] = DESTINATIONS) -> list[str]:
    """Names of the destinations that meet every stated constraint, in ranking order."""
    return [r.destination.name for r in recommend(prefs, destinations) if r.acceptable]
