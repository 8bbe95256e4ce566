"""Deterministic generation of the travel rows: SFT chats, preference pairs and a held-out eval split.

Each example starts from a *target* destination. Preferences are drawn from the target's own
attributes (so it satisfies them), then ``n_candidates - 1`` distractors are drawn that each miss at
least one stated constraint, about half of them missing exactly one (the plausible mistakes). The
option list is shuffled, so the answer's position carries no signal. By construction the target is the
only acceptable option and ``rules.recommend`` ranks it first (a test checks both).

Why an option list: the evaluation split is held out *by destination*, so a model cannot know those
places from training; the agency's shortlist in the prompt is what it must reason over, as a
retrieval step would provide in production.

Hold-out: a seeded fifth of the catalog (per climate) and five of the twenty templates belong to
evaluation only. SFT and preference rows never mention an eval destination (not even as a distractor)
and never use an eval template; eval rows use only eval destinations and eval templates.

Determinism: every random choice comes from ``random.Random("travel:<seed>:<split>")`` (string seeds
are hashed with SHA-512, independent of ``PYTHONHASHSEED``) and nothing iterates a set.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from llmloop.errors import InvalidInput
from llmloop.examples.travel.catalog import CLIMATES, DESTINATIONS, Destination
from llmloop.examples.travel.phrasing import (
    SYSTEM_PROMPT,
    TEMPLATES,
    Template,
    render_answer,
    render_request,
    render_user_message,
)
from llmloop.examples.travel.rules import Preferences, recommend, violations

Split = Literal["sft", "preference", "eval"]

EVAL_DESTINATION_FRACTION = 0.2
EVAL_TEMPLATE_COUNT = 5
MAX_ROWS = 100_000
_ATTEMPTS_PER_ROW = 50
_OPTIONAL_KINDS = ("climate", "budget", "month", "region")


@dataclass(frozen=True)
class Holdout:
    """Which destinations and templates belong to the eval split only."""

    eval_destinations: tuple[str, ...]
    eval_templates: tuple[str, ...]

    def destinations(self, split: Split) -> tuple[Destination, ...]:
        held = split == "eval"
        return tuple(d for d in DESTINATIONS if (d.name in self.eval_destinations) == held)

    def templates(self, split: Split) -> tuple[Template, ...]:
        held = split == "eval"
        return tuple(t for t in TEMPLATES if (t.id in self.eval_templates) == held)


@dataclass(frozen=True)
class Example:
    """One generated question with its ground truth, before it is shaped into a row."""

    template: Template
    prefs: Preferences
    options: tuple[Destination, ...]
    target: Destination
    rejected: Destination
    user: str

    @property
    def answer(self) -> str:
        return render_answer(self.target, self.prefs)

    @property
    def rejected_answer(self) -> str:
        return render_answer(self.rejected, self.prefs)

    def sft_row(self) -> dict[str, Any]:
        return {
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": self.user},
                {"role": "assistant", "content": self.answer},
            ]
        }

    def preference_row(self) -> dict[str, Any]:
        return {"prompt": self.user, "chosen": self.answer, "rejected": self.rejected_answer}

    def eval_row(self) -> dict[str, Any]:
        return {
            "input": self.user,
            "reference": self.answer,
            "metadata": {
                "task": "travel_recommendation",
                "template": self.template.id,
                "target": self.target.name,
                "acceptable": [self.target.name],
                "options": [d.name for d in self.options],
                "preferences": self.prefs.to_dict(),
            },
        }


@dataclass(frozen=True)
class Generated:
    holdout: Holdout
    sft: list[Example]
    preference: list[Example]
    eval: list[Example]


def make_holdout(seed: int) -> Holdout:
    """A fifth of each climate's destinations and five templates, chosen by ``seed``.

    Stratifying by climate keeps every climate in both sides, so the eval split is not, by chance,
    all beaches.
    """
    rng = random.Random(f"travel:{seed}:holdout")
    held: list[str] = []
    for climate in CLIMATES:
        names = [d.name for d in DESTINATIONS if d.climate == climate]
        rng.shuffle(names)
        held += names[: max(1, round(len(names) * EVAL_DESTINATION_FRACTION))]
    templates = [t.id for t in TEMPLATES]
    rng.shuffle(templates)
    return Holdout(tuple(sorted(held)), tuple(sorted(templates[:EVAL_TEMPLATE_COUNT])))


def draw_preferences(target: Destination, rng: random.Random) -> Preferences:
    """Preferences the target satisfies: 1-2 of its activities plus 1-3 other stated constraints."""
    n_acts = 2 if len(target.activities) > 1 and rng.random() < 0.5 else 1
    activities = tuple(rng.sample(target.activities, n_acts))
    kinds = set(rng.sample(_OPTIONAL_KINDS, rng.choice((1, 2, 2, 3))))
    return Preferences(
        activities=activities,
        climate=target.climate if "climate" in kinds else None,
        budget=target.budget if "budget" in kinds else None,
        month=rng.choice(target.best_months) if "month" in kinds else None,
        region=target.region if "region" in kinds else None,
        party=rng.choice(target.suits) if rng.random() < 0.5 else None,
    )


def make_example(
    target: Destination,
    template: Template,
    pool: Sequence[Destination],
    n_candidates: int,
    rng: random.Random,
) -> Example | None:
    """One example for ``target``, distractors from ``pool``; ``None`` when the pool cannot supply them."""
    prefs = draw_preferences(target, rng)
    missed = {d.name: len(violations(d, prefs)) for d in pool}
    wrong = [d for d in pool if missed[d.name]]
    if len(wrong) < n_candidates - 1:
        return None
    near = [d for d in wrong if missed[d.name] == 1]
    n_near = min(len(near), math.ceil((n_candidates - 1) / 2))
    distractors = rng.sample(near, n_near)
    picked = {d.name for d in distractors}
    rest = [d for d in wrong if d.name not in picked]
    distractors += rng.sample(rest, n_candidates - 1 - n_near)
    options = [target, *distractors]
    rng.shuffle(options)
    ranking = recommend(prefs, options)
    return Example(
        template=template,
        prefs=prefs,
        options=tuple(options),
        target=ranking[0].destination,
        rejected=ranking[1].destination,
        user=render_user_message(render_request(template, prefs, rng), options),
    )


def _examples(
    split: Split, n: int, seed: int, holdout: Holdout, n_candidates: int, seen: set[str]
) -> list[Example]:
    rng = random.Random(f"travel:{seed}:{split}")
    pool = holdout.destinations(split)
    templates = holdout.templates(split)
    targets = list(pool)
    rng.shuffle(targets)
    out: list[Example] = []
    for i in range(n):
        target = targets[i % len(targets)]  # round-robin: every destination is a target equally often
        for _ in range(_ATTEMPTS_PER_ROW):
            example = make_example(target, rng.choice(templates), pool, n_candidates, rng)
            if example is not None and example.user not in seen:
                seen.add(example.user)
                out.append(example)
                break
        else:
            raise InvalidInput(
                f"could not make {n} distinct {split} rows; ask for fewer",
                details={"split": split, "rows": n, "made": len(out)},
            )
    return out


def check_sizes(rows: dict[str, int], n_candidates: int) -> None:
    """Row counts and shortlist size a generator accepts; the error names the argument."""
    for name, value in rows.items():
        if not 0 <= value <= MAX_ROWS:
            raise InvalidInput(
                f"{name} must be between 0 and {MAX_ROWS}, got {value}", details={"field": name}
            )
    if not 2 <= n_candidates <= 8:
        raise InvalidInput(f"n_candidates must be 2-8, got {n_candidates}", details={"field": "n_candidates"})


def generate(
    seed: int = 0, *, n_sft: int = 800, n_pref: int = 300, n_eval: int = 200, n_candidates: int = 4
) -> Generated:
    """All three splits for ``seed``; same arguments, same rows. Inputs are unique across splits."""
    check_sizes({"n_sft": n_sft, "n_pref": n_pref, "n_eval": n_eval}, n_candidates)
    holdout = make_holdout(seed)
    seen: set[str] = set()
    return Generated(
        holdout=holdout,
        sft=_examples("sft", n_sft, seed, holdout, n_candidates, seen),
        preference=_examples("preference", n_pref, seed, holdout, n_candidates, seen),
        eval=_examples("eval", n_eval, seed, holdout, n_candidates, seen),
    )
