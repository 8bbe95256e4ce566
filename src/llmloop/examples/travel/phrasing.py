"""How requests, option lists and answers are worded.

A request is one of twenty *templates* (the frame of the sentence) filled with preference fragments.
The evaluation split holds whole templates out, so a fine-tuned model is scored on wordings it never
saw. The answer wording has no randomness at all: it is a pure function of (destination, preferences),
so the same question always has the same reference, and the format is easy to parse:

    Recommendation: <Destination>, <Country>
    Why: <stated wishes the destination meets, with its own values>.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from llmloop.examples.travel.catalog import BUDGET_LABELS, MONTHS, Activity, Climate, Destination, Party
from llmloop.examples.travel.rules import Preferences

Style = Literal["prose", "fields", "bullets", "terse"]

SYSTEM_PROMPT = (
    "You are a travel agent. Recommend the one listed destination that meets every wish. "
    "Answer in two lines:\nRecommendation: <Destination>, <Country>\nWhy: <short reason>"
)
ANSWER_PREFIX = "Recommendation: "
REASON_PREFIX = "Why: "


@dataclass(frozen=True)
class Template:
    """A request frame with ``{intro}`` (the party, may be empty), ``{acts}`` and ``{cons}`` slots."""

    id: str
    style: Style
    text: str


TEMPLATES: tuple[Template, ...] = (
    Template("t01", "prose", "{intro}Looking for {acts}, {cons}. Which destination fits best?"),
    Template("t02", "prose", "{intro}Can you suggest a trip with {acts}? Must-haves: {cons}."),
    Template("t03", "prose", "Where should I go for {acts}, {cons}? {intro}"),
    Template("t04", "prose", "{intro}Our wish list: {acts}, {cons}. What do you recommend?"),
    Template("t05", "prose", "{intro}Help me choose a place with {acts}, {cons}."),
    Template("t06", "prose", "{intro}Planning a holiday with {acts}, {cons}. Any ideas?"),
    Template("t07", "prose", "Which option suits a trip for {acts}, {cons}? {intro}"),
    Template("t08", "prose", "{intro}I need a destination that offers {acts}, {cons}. Pick one for me."),
    Template("t09", "prose", "Hi! {intro}We're after {acts}, {cons}. Where to?"),
    Template("t10", "prose", "{intro}Dream trip: {acts}, {cons}. Which would you choose?"),
    Template("t11", "prose", "What's the best match for {acts}, {cons}? {intro}"),
    Template("t12", "prose", "{intro}Thinking about a getaway with {acts}, {cons}. Your pick?"),
    Template("t13", "prose", "{intro}I'd like {acts}, {cons}. Which place on the list works?"),
    Template("t14", "prose", "Need a trip idea with {acts}, {cons}. {intro}"),
    Template("t15", "prose", "{intro}Somewhere with {acts}, please, {cons}. Thanks!"),
    Template("t16", "fields", "Trip request. Activities: {acts}; {cons}.{intro}"),
    Template("t17", "fields", "Criteria - activities: {acts}; {cons}.{intro} Best option?"),
    Template("t18", "bullets", "Preferences:\n- activities: {acts}{cons}{intro}"),
    Template("t19", "terse", "{acts} - {cons}{intro}. Which one?"),
    Template("t20", "terse", "Need: {acts}, {cons}{intro}. Suggestion?"),
)

_ACTIVITY_WORDS: dict[Activity, tuple[str, ...]] = {
    "beach": ("beaches", "beach time"),
    "hiking": ("hiking", "good hiking"),
    "museums": ("museums", "great museums"),
    "nightlife": ("nightlife", "lively nightlife"),
    "skiing": ("skiing", "good skiing"),
    "food": ("good food", "great local food"),
    "wildlife": ("wildlife", "wildlife watching"),
    "diving": ("diving", "scuba diving"),
    "history": ("history", "lots of history"),
    "shopping": ("shopping", "good shopping"),
}
_CLIMATE_PHRASES: dict[Climate, tuple[str, ...]] = {
    "tropical": ("somewhere tropical", "a tropical climate"),
    "temperate": ("a temperate climate", "somewhere mild and temperate"),
    "arid": ("an arid, desert climate", "somewhere dry and arid"),
    "alpine": ("an alpine climate", "alpine mountain air"),
    "mediterranean": ("a Mediterranean climate", "Mediterranean weather"),
    "cold": ("a cold climate", "somewhere properly cold"),
}
_BUDGET_PHRASES = {
    "budget": ("on a tight budget", "budget prices", "a cheap, budget trip"),
    "mid": ("a mid-range budget", "mid-range prices"),
    "luxury": ("a luxury budget", "luxury, money no object"),
}
_MONTH_PHRASES = ("in {m}", "travelling in {m}", "during {m}")
_REGION_PHRASES = ("in {r}", "somewhere in {r}", "staying in {r}")
_PARTY_INTROS: dict[Party, tuple[str, ...]] = {
    "solo": ("I'm travelling solo.", "Solo trip for me."),
    "couple": ("My partner and I are planning a trip.", "It's a getaway for two."),
    "family": ("We're a family with young kids.", "Family trip, two adults and two children."),
    "friends": ("A group of friends is planning a trip.", "Four friends going away together."),
}


def climate_word(climate: Climate) -> str:
    return "Mediterranean" if climate == "mediterranean" else climate


def _join_and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _field_values(prefs: Preferences) -> list[tuple[str, str]]:
    """The non-activity constraints as (key, plain value), in a fixed order."""
    fields: list[tuple[str, str]] = []
    if prefs.climate is not None:
        fields.append(("climate", climate_word(prefs.climate)))
    if prefs.budget is not None:
        fields.append(("price", BUDGET_LABELS[prefs.budget]))
    if prefs.month is not None:
        fields.append(("month", MONTHS[prefs.month - 1]))
    if prefs.region is not None:
        fields.append(("region", prefs.region))
    return fields


def _prose_constraints(prefs: Preferences, rng: random.Random) -> list[str]:
    phrases: list[str] = []
    if prefs.climate is not None:
        phrases.append(rng.choice(_CLIMATE_PHRASES[prefs.climate]))
    if prefs.budget is not None:
        phrases.append(rng.choice(_BUDGET_PHRASES[prefs.budget]))
    if prefs.month is not None:
        phrases.append(rng.choice(_MONTH_PHRASES).format(m=MONTHS[prefs.month - 1]))
    if prefs.region is not None:
        phrases.append(rng.choice(_REGION_PHRASES).format(r=prefs.region))
    rng.shuffle(phrases)
    return phrases


def render_request(template: Template, prefs: Preferences, rng: random.Random) -> str:
    """The traveller's words: ``template`` filled in the template's style, fragments chosen by ``rng``."""
    fields = _field_values(prefs)
    party = prefs.party
    if template.style == "prose":
        acts = _join_and([rng.choice(_ACTIVITY_WORDS[a]) for a in prefs.activities])
        cons = ", ".join(_prose_constraints(prefs, rng))
        intro = rng.choice(_PARTY_INTROS[party]) + " " if party else ""
    elif template.style == "fields":
        acts = ", ".join(prefs.activities)
        cons = "; ".join(f"{k}: {v}" for k, v in fields)
        intro = f" Travellers: {party}." if party else ""
    elif template.style == "bullets":
        acts = ", ".join(prefs.activities)
        cons = "".join(f"\n- {k}: {v}" for k, v in fields)
        intro = f"\n- travellers: {party}" if party else ""
    else:
        acts = " + ".join(prefs.activities)
        cons = ", ".join(v for _, v in fields)
        intro = f", {party}" if party else ""
    return template.text.format(intro=intro, acts=acts, cons=cons).strip()


def render_option(destination: Destination) -> str:
    """One line of the option list: everything the ground truth looks at, and nothing else."""
    d = destination
    months = " ".join(MONTHS[m - 1][:3] for m in d.best_months)
    return (
        f"- {d.name}, {d.country} ({d.region}): {climate_word(d.climate)}, {BUDGET_LABELS[d.budget]}; "
        f"{', '.join(d.activities)}; best {months}"
    )


def render_user_message(request: str, options: Sequence[Destination]) -> str:
    return request + "\nOptions:\n" + "\n".join(render_option(d) for d in options)


def render_answer(destination: Destination, prefs: Preferences) -> str:
    """The two-line answer recommending ``destination``; the reason restates its values for each stated wish.

    For a destination that misses a wish, the reason states the destination's true value (``tropical
    climate`` where alpine was asked), so a rejected answer is wrong but never self-contradictory.
    """
    d = destination
    offered = [a for a in prefs.activities if a in d.activities] or list(d.activities[:2])
    parts = [_join_and(offered)]
    if prefs.climate is not None:
        parts.append(f"{climate_word(d.climate)} climate")
    if prefs.budget is not None:
        parts.append(f"{BUDGET_LABELS[d.budget]} prices")
    if prefs.month is not None:
        good = prefs.month in d.best_months
        parts.append(
            f"good in {MONTHS[prefs.month - 1]}" if good else f"best in {MONTHS[d.best_months[0] - 1]}"
        )
    if prefs.region is not None:
        parts.append(f"in {d.region}")
    return f"{ANSWER_PREFIX}{d.name}, {d.country}\n{REASON_PREFIX}{', '.join(parts)}."
