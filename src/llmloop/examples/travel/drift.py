"""Turn 2's production traffic: the same catalogue, asked for in words the turn-1 data never used.

Customers in production do not read the template list. The drifted share of the traffic says the
same hard wishes (activities, climate, budget, month, region) in new words: eight new sentence frames
(none of turn 1's twenty) filled with synonyms for every wish ("sun and sand" for beaches, "trekking"
for hiking, "wallet-friendly" for budget). What a request *means* is still the catalogue's rule
(``rules.py``), so the ground truth is computed exactly as in turn 1.

Slices, held out by request signature like ``dataset.py`` (and with its hashing, ``share_of``):

* ``traffic`` — what the deployment is sent: a drifted share plus original-style rows (turn-1 train
  templates). Every traffic signature belongs to turn 1's *train* split, so feedback on traffic never
  teaches the original dev/test requests, and the drifted slices below never meet a traffic signature.
* ``dev`` — drifted rows to choose and stop the turn-2 training on.
* ``test`` — drifted rows the gate reads once per model.

Rows are ``eval`` records of the same shape as turn 1's (same prompt variables, same metadata), with
``metadata.drifted`` saying which wording a row used. Matched difficulty: every slice is drawn by
``dataset.make_rows``, the one procedure (round-robin targets, distractors from the whole catalogue,
about half of them missing exactly one wish). Determinism as in ``dataset.py``.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from llmloop.errors import InvalidInput
from llmloop.examples.travel.catalog import (
    DESTINATIONS,
    MONTHS,
    Activity,
    Budget,
    Climate,
    Destination,
    Party,
    Region,
)
from llmloop.examples.travel.dataset import (
    Row,
    make_rows,
    share_of,
    signature,
    split_of,
    template_split,
)
from llmloop.examples.travel.generate import check_sizes, draw_preferences
from llmloop.examples.travel.phrasing import Template, render_request
from llmloop.examples.travel.rules import Preferences

Slice = Literal["traffic", "dev", "test"]
SLICES: tuple[Slice, ...] = ("traffic", "dev", "test")
SLICE_SHARES: dict[Slice, float] = {"traffic": 0.6, "dev": 0.2, "test": 0.2}

DRIFT_TEMPLATES: tuple[Template, ...] = (
    Template("d01", "prose", "{intro}Hoping to find {acts}, ideally {cons}. What would you book?"),
    Template("d02", "prose", "Any tips? {intro}We fancy {acts} - {cons}."),
    Template("d03", "prose", "{intro}Our crew wants {acts}; {cons}. Which of these is it?"),
    Template("d04", "prose", "Quick one: {acts}, {cons}. Best bet? {intro}"),
    Template("d05", "prose", "{intro}After {acts} this time, {cons}. Recommend one."),
    Template("d06", "prose", "{intro}Craving {acts} and {cons}. Where do we go?"),
    Template("d07", "prose", "Booking soon. {intro}Must have {acts}, {cons}."),
    Template("d08", "prose", "{intro}Is there a spot for {acts}, {cons}? Point me to it."),
)

_ACTIVITY_SYNONYMS: dict[Activity, tuple[str, ...]] = {
    "beach": ("sun and sand", "lazy days by the sea"),
    "hiking": ("trekking", "long walks on mountain trails"),
    "museums": ("galleries and exhibitions", "art collections"),
    "nightlife": ("bars and clubs", "dancing till late"),
    "skiing": ("time on the slopes", "snowboarding and ski runs"),
    "food": ("local cuisine", "eating out every night"),
    "wildlife": ("safaris", "spotting animals in the wild"),
    "diving": ("snorkelling and reef dives", "underwater exploring"),
    "history": ("ancient ruins", "old towns and castles"),
    "shopping": ("markets and boutiques", "a spot of retail therapy"),
}
_CLIMATE_SYNONYMS: dict[Climate, tuple[str, ...]] = {
    "tropical": ("hot, humid tropics", "palm-tree tropical heat"),
    "temperate": ("mild weather, nothing extreme", "a gentle temperate feel"),
    "arid": ("desert heat", "dry sunshine with no rain"),
    "alpine": ("high mountains", "crisp mountain-top air"),
    "mediterranean": ("warm Mediterranean sun", "olive-grove Mediterranean weather"),
    "cold": ("snow and frost", "a properly chilly place"),
}
_BUDGET_SYNONYMS: dict[Budget, tuple[str, ...]] = {
    "budget": ("wallet-friendly", "as cheap as possible"),
    "mid": ("moderately priced", "neither cheap nor fancy"),
    "luxury": ("a splurge, five-star all the way", "top-end luxury"),
}
_MONTH_SYNONYMS = ("around {m}", "sometime in {m}", "going {m}")
_REGION_SYNONYMS = ("anywhere in {r}", "within {r}", "{r} only")
_PARTY_SYNONYMS: dict[Party, tuple[str, ...]] = {
    "solo": ("Just me this time.", "One traveller, on my own."),
    "couple": ("Two of us, a romantic trip.", "Me and my other half."),
    "family": ("Parents plus little ones.", "A family outing with the kids."),
    "friends": ("A bunch of mates.", "Travelling with my friends."),
}


def _join_and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def render_drifted(template: Template, prefs: Preferences, rng: random.Random) -> str:
    """A request in production's words: a drift template filled with synonyms for every wish."""
    acts = _join_and([rng.choice(_ACTIVITY_SYNONYMS[a]) for a in prefs.activities])
    cons: list[str] = []
    if prefs.climate is not None:
        cons.append(rng.choice(_CLIMATE_SYNONYMS[prefs.climate]))
    if prefs.budget is not None:
        cons.append(rng.choice(_BUDGET_SYNONYMS[prefs.budget]))
    if prefs.month is not None:
        cons.append(rng.choice(_MONTH_SYNONYMS).format(m=MONTHS[prefs.month - 1]))
    if prefs.region is not None:
        cons.append(rng.choice(_REGION_SYNONYMS).format(r=prefs.region))
    rng.shuffle(cons)
    intro = rng.choice(_PARTY_SYNONYMS[prefs.party]) + " " if prefs.party else ""
    return template.text.format(intro=intro, acts=acts, cons=", ".join(cons) or "no other wishes").strip()


@dataclass(frozen=True)
class Focus:
    """Where production's demand concentrates: a season (every customer travels in one of ``months``)
    or a market (every customer books a place in ``region``, saying so or not).

    Every drifted row's answer is then one of the focus's places, so the traffic, and the feedback on
    it, concentrate on part of the catalogue; a season's requests always state an in-season month (a
    hard wish, by the same rule), a market's state the region as often as turn 1's. The shortlist's
    distractors still come from the whole catalogue.
    """

    name: str
    months: tuple[int, ...] = ()
    region: Region | None = None

    @property
    def destinations(self) -> tuple[Destination, ...]:
        """The focus's places, in catalogue order: at their best in a season month, in the region."""
        return tuple(
            d
            for d in DESTINATIONS
            if (not self.months or set(d.best_months) & set(self.months))
            and (self.region is None or d.region == self.region)
        )

    def draw(self, target: Destination, rng: random.Random) -> Preferences:
        """``draw_preferences`` for ``target``; in a season, with the month always stated and in it."""
        prefs = draw_preferences(target, rng)
        if not self.months:
            return prefs
        month = rng.choice([m for m in target.best_months if m in self.months])
        return dataclasses.replace(prefs, month=month)


FOCUSES: dict[str, Focus] = {
    f.name: f
    for f in (
        Focus("summer", months=(6, 7, 8)),
        Focus("winter", months=(12, 1, 2)),
        Focus("december", months=(12,)),
        Focus("asia", region="Asia"),
        Focus("europe", region="Europe"),
    )
}


def focus_named(name: str | None) -> Focus | None:
    """The focus called ``name`` (``None``: none, the whole catalogue); unknown is ``InvalidInput``."""
    if name is None:
        return None
    if name not in FOCUSES:
        raise InvalidInput(
            f"unknown drift focus {name!r}; expected one of {', '.join(FOCUSES)}", details={"field": "focus"}
        )
    return FOCUSES[name]


def slice_of(sig: str, seed: int) -> Slice:
    """Which drift slice owns a signature (its own seeded hash, independent of turn 1's)."""
    owner = share_of(f"travel-drift:{seed}:{sig}", SLICE_SHARES)
    return "traffic" if owner == "traffic" else ("dev" if owner == "dev" else "test")


def _owns(name: Slice, seed: int) -> Any:
    if name == "traffic":
        return lambda sig: slice_of(sig, seed) == "traffic" and split_of(sig, seed) == "train"
    return lambda sig: slice_of(sig, seed) == name


@dataclass(frozen=True)
class DriftRow:
    row: Row
    drifted: bool

    def record(self) -> dict[str, Any]:
        rec = self.row.record()
        rec["metadata"]["drifted"] = self.drifted
        return {**rec, "split": self.row.split}


@dataclass(frozen=True)
class Drift:
    """The three drift slices of one seed; ``traffic`` interleaves drifted and original-style rows."""

    seed: int
    traffic: list[DriftRow]
    dev: list[DriftRow]
    test: list[DriftRow]

    def slice(self, name: Slice) -> list[DriftRow]:
        return {"traffic": self.traffic, "dev": self.dev, "test": self.test}[name]

    def records(self) -> list[dict[str, Any]]:
        """Every row, in slice order, each with its ``split`` (the slice): one dataset version."""
        return [r.record() for name in SLICES for r in self.slice(name)]


def generate_drift(
    seed: int = 0,
    *,
    n_traffic: int = 160,
    drifted_share: float = 0.6,
    n_dev: int = 64,
    n_test: int = 200,
    n_candidates: int = 4,
    focus: str | None = None,
) -> Drift:
    """All three slices for ``seed``; same arguments, same rows; no request repeats across slices.
    ``focus`` (a name in ``FOCUSES``) puts every drifted row, in the traffic and in the dev and test
    slices, on that focus's places (``Focus``); the original-style traffic keeps the whole catalogue."""
    n_drifted = round(n_traffic * drifted_share)
    check_sizes({"n_traffic": n_traffic, "n_dev": n_dev, "n_test": n_test}, n_candidates)
    focused = focus_named(focus)
    seen: set[str] = set()
    targets, draw = (focused.destinations, focused.draw) if focused else (DESTINATIONS, draw_preferences)

    def rows(name: Slice, n: int, templates: Sequence[Template], drifted: bool, tag: str) -> list[Row]:
        return make_rows(
            name,
            n,
            rng=random.Random(f"travel-drift:{seed}:{name}:{tag}"),
            owns=_owns(name, seed),
            templates=templates,
            n_candidates=n_candidates,
            seen=seen,
            render=render_drifted if drifted else render_request,
            targets=targets if drifted else DESTINATIONS,
            draw=draw if drifted else draw_preferences,
        )

    drifted = rows("traffic", n_drifted, DRIFT_TEMPLATES, True, "drifted")
    original = rows("traffic", n_traffic - n_drifted, template_split(seed)["train"], False, "original")
    traffic = _interleave(drifted, original)
    return Drift(
        seed,
        traffic=traffic,
        dev=[DriftRow(r, True) for r in rows("dev", n_dev, DRIFT_TEMPLATES, True, "drifted")],
        test=[DriftRow(r, True) for r in rows("test", n_test, DRIFT_TEMPLATES, True, "drifted")],
    )


def _interleave(drifted: list[Row], original: list[Row]) -> list[DriftRow]:
    """Both kinds spread evenly through the traffic (the order it is sent in), renumbered."""
    tagged = [(i / max(1, len(drifted)), r, True) for i, r in enumerate(drifted)]
    tagged += [((i + 0.5) / max(1, len(original)), r, False) for i, r in enumerate(original)]
    tagged.sort(key=lambda t: t[0])
    out = []
    for index, (_, r, flag) in enumerate(tagged):
        row = Row(r.split, r.template, r.prefs, r.options, r.target, r.runner_up, r.request, index)
        out.append(DriftRow(row, flag))
    return out


def signatures(rows: Sequence[DriftRow]) -> set[str]:
    return {signature(r.row.prefs) for r in rows}
