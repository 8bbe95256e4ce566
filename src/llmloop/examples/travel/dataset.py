"""The travel experiment's data: one catalogue, train/dev/test held out by request and by wording.

The agency fine-tunes on *its own* catalogue: every destination can appear in every split. What is new
in production is the customer — what they ask for and how they say it — so that is what the splits
hold out:

* **By request signature.** A signature is the set of hard wishes (activities, climate, budget, month,
  region). Each signature belongs to exactly one split, chosen by a seeded hash, so no test request asks
  for the same combination as any training request, however it is worded.
* **By wording.** Six of the twenty templates are held out: dev and test rows use only those, training
  rows only the other fourteen.
* **Matched difficulty.** Every split is drawn by the same procedure: the target is round-robin over the
  whole catalogue, the distractors come from the whole catalogue, each misses at least one stated wish
  and about half miss exactly one (the plausible mistakes). Tests check the mix per split.

A row is an ``eval``-kind record: ``input`` is the traveller's request, ``reference`` the name of the one
acceptable option, and the prompt variables ``option_names`` / ``option_lines`` hold the shortlist with
or without its catalogue facts. Training, evaluation and serving render the same row through the same
registered prompt, so a model is trained on exactly the text it is asked at evaluation.

Determinism: every random choice comes from ``random.Random("travel-exp:<seed>:<what>")`` (string seeds
are hashed with SHA-512, independent of ``PYTHONHASHSEED``), split membership from SHA-256, and nothing
iterates a set.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from llmloop.errors import InvalidInput
from llmloop.examples.travel.catalog import DESTINATIONS, Destination
from llmloop.examples.travel.generate import check_sizes, draw_preferences
from llmloop.examples.travel.phrasing import TEMPLATES, Template, render_option, render_request
from llmloop.examples.travel.rules import Preferences, recommend, violations
from llmloop.hashing import unit_hash

Split = Literal["train", "dev", "test"]
SPLITS: tuple[Split, ...] = ("train", "dev", "test")
# Shares of the signature space; dev and test are equal so the prompt chosen on dev meets test's mix.
SIGNATURE_SHARES: dict[Split, float] = {"train": 0.7, "dev": 0.15, "test": 0.15}
HELD_OUT_TEMPLATES = 6
_ATTEMPTS_PER_ROW = 400


def signature(prefs: Preferences) -> str:
    """The hard wishes of a request, canonical: equal for two requests that ask for the same thing."""
    acts = "+".join(sorted(prefs.activities))
    return f"{acts}|{prefs.climate or '-'}|{prefs.budget or '-'}|{prefs.month or '-'}|{prefs.region or '-'}"


def share_of(key: str, shares: Mapping[Any, float]) -> str:
    """Which of ``shares`` (name → share, in order, summing to 1) owns ``key``: SHA-256 of the key, so
    membership needs no table and never drifts. The turn-2 drift slices use it with their own keys."""
    u = unit_hash(key)
    edge = 0.0
    names = [str(n) for n in shares]
    for name in names:
        edge += shares[name]
        if u < edge:
            return name
    return names[-1]


def split_of(sig: str, seed: int) -> Split:
    """Which split owns a signature: a seeded hash, so membership needs no table and never drifts."""
    return cast(Split, share_of(f"travel-exp:{seed}:{sig}", SIGNATURE_SHARES))


def template_split(seed: int) -> dict[Split, tuple[Template, ...]]:
    """Fourteen templates for training, six held out for dev and test (the wordings a customer brings)."""
    ids = [t.id for t in TEMPLATES]
    random.Random(f"travel-exp:{seed}:templates").shuffle(ids)
    held = set(ids[:HELD_OUT_TEMPLATES])
    train = tuple(t for t in TEMPLATES if t.id not in held)
    test = tuple(t for t in TEMPLATES if t.id in held)
    return {"train": train, "dev": test, "test": test}


@dataclass(frozen=True)
class Row:
    """One request with its shortlist and ground truth."""

    split: str  # train/dev/test here; traffic/dev/test in ``drift.py``
    template: Template
    prefs: Preferences
    options: tuple[Destination, ...]
    target: Destination
    runner_up: Destination
    request: str
    index: int

    @property
    def id(self) -> str:
        return f"{self.split}-{self.index:05d}"

    def record(self) -> dict[str, Any]:
        """The stored row: an ``eval`` record whose extra fields are the prompt's variables."""
        return {
            "id": self.id,
            "input": self.request,
            "reference": self.target.name,
            "option_names": "\n".join(f"- {d.name}" for d in self.options),
            "option_lines": "\n".join(render_option(d) for d in self.options),
            "metadata": {
                "task": "travel_recommendation",
                "template": self.template.id,
                "signature": signature(self.prefs),
                "target": self.target.name,
                "runner_up": self.runner_up.name,
                "acceptable": [self.target.name],
                "options": [d.name for d in self.options],
                "preferences": self.prefs.to_dict(),
            },
        }


def _distractors(
    target: Destination, prefs: Preferences, n: int, rng: random.Random
) -> list[Destination] | None:
    """``n`` catalogue places that each miss a stated wish, about half of them by exactly one."""
    missed = {d.name: len(violations(d, prefs)) for d in DESTINATIONS if d.name != target.name}
    wrong = [d for d in DESTINATIONS if missed.get(d.name)]
    if len(wrong) < n:
        return None
    near = [d for d in wrong if missed[d.name] == 1]
    n_near = min(len(near), math.ceil(n / 2))
    picked = rng.sample(near, n_near)
    names = {d.name for d in picked}
    picked += rng.sample([d for d in wrong if d.name not in names], n - n_near)
    return picked


Render = Callable[[Template, Preferences, random.Random], str]
Draw = Callable[[Destination, random.Random], Preferences]


def _rows(split: Split, n: int, seed: int, n_candidates: int, seen: set[str]) -> list[Row]:
    return make_rows(
        split,
        n,
        rng=random.Random(f"travel-exp:{seed}:{split}"),
        owns=lambda sig: split_of(sig, seed) == split,
        templates=template_split(seed)[split],
        n_candidates=n_candidates,
        seen=seen,
    )


def make_rows(
    split: str,
    n: int,
    *,
    rng: random.Random,
    owns: Callable[[str], bool],
    templates: Sequence[Template],
    n_candidates: int,
    seen: set[str],
    render: Render = render_request,
    targets: Sequence[Destination] = DESTINATIONS,
    draw: Draw = draw_preferences,
) -> list[Row]:
    """``n`` rows whose signatures ``owns`` accepts, worded by ``templates`` through ``render``: the one
    procedure behind every split (round-robin over ``targets``, wishes drawn from the target by
    ``draw``, distractors from the whole catalogue). Turn 2's seasonal drift narrows ``targets``."""
    order = list(targets)
    rng.shuffle(order)
    out: list[Row] = []
    for i in range(n):
        target = order[i % len(order)]  # round-robin: every place is the answer equally often
        for _ in range(_ATTEMPTS_PER_ROW):
            prefs = draw(target, rng)
            if not owns(signature(prefs)):
                continue
            distractors = _distractors(target, prefs, n_candidates - 1, rng)
            if distractors is None:
                continue
            options = [target, *distractors]
            rng.shuffle(options)
            template = rng.choice(templates)
            request = render(template, prefs, rng)
            if request in seen:
                continue
            ranking = recommend(prefs, options)
            seen.add(request)
            best, second = ranking[0].destination, ranking[1].destination
            out.append(Row(split, template, prefs, tuple(options), best, second, request, len(out)))
            break
        else:
            raise InvalidInput(
                f"could not make {n} distinct {split} rows; ask for fewer",
                details={"split": split, "rows": n, "made": len(out)},
            )
    return out


@dataclass(frozen=True)
class Experiment:
    """The three splits of one seed."""

    seed: int
    train: list[Row]
    dev: list[Row]
    test: list[Row]

    def split(self, name: Split) -> list[Row]:
        return {"train": self.train, "dev": self.dev, "test": self.test}[name]

    def records(self) -> list[dict[str, Any]]:
        """Every row, in split order, each with its ``split``: one dataset version holds all three."""
        return [{**r.record(), "split": r.split} for name in SPLITS for r in self.split(name)]


def generate_experiment(
    seed: int = 0, *, n_train: int = 1200, n_dev: int = 200, n_test: int = 400, n_candidates: int = 4
) -> Experiment:
    """All three splits for ``seed``; same arguments, same rows. Requests are unique across splits."""
    check_sizes({"n_train": n_train, "n_dev": n_dev, "n_test": n_test}, n_candidates)
    seen: set[str] = set()
    return Experiment(
        seed,
        train=_rows("train", n_train, seed, n_candidates, seen),
        dev=_rows("dev", n_dev, seed, n_candidates, seen),
        test=_rows("test", n_test, seed, n_candidates, seen),
    )
