"""The travel experiment's splits: held out by request signature and by wording, matched in difficulty."""

from __future__ import annotations

from collections import Counter
from statistics import mean

import pytest

from llmloop.errors import InvalidInput
from llmloop.examples.travel.catalog import DESTINATIONS
from llmloop.examples.travel.dataset import SPLITS, Experiment, generate_experiment, signature, template_split
from llmloop.examples.travel.rules import violations


@pytest.fixture(scope="module")
def exp() -> Experiment:
    return generate_experiment(0, n_train=1200, n_dev=200, n_test=400)


def test_signatures_never_cross_splits(exp: Experiment) -> None:
    owners: dict[str, set[str]] = {}
    for split in SPLITS:
        for row in exp.split(split):
            owners.setdefault(signature(row.prefs), set()).add(split)
    assert all(len(s) == 1 for s in owners.values())
    assert {next(iter(s)) for s in owners.values()} == set(SPLITS)


def test_held_out_wordings_are_dev_and_test_only(exp: Experiment) -> None:
    train = {r.template.id for r in exp.train}
    held = {r.template.id for r in exp.dev} | {r.template.id for r in exp.test}
    assert not train & held
    assert len(train) == 14 and held == {t.id for t in template_split(0)["test"]}


def test_one_catalogue_every_split(exp: Experiment) -> None:
    names = {d.name for d in DESTINATIONS}
    for split in SPLITS:
        targets = Counter(r.target.name for r in exp.split(split))
        assert set(targets) == names  # round-robin: every place is an answer in every split
        assert max(targets.values()) - min(targets.values()) <= 1
    # distractors come from the whole catalogue too, not a split's own part of it
    assert {d.name for r in exp.test for d in r.options} == names


def test_the_target_is_the_one_acceptable_option(exp: Experiment) -> None:
    for row in exp.test:
        ok = [d.name for d in row.options if not violations(d, row.prefs)]
        assert ok == [row.target.name]
        record = row.record()
        assert record["reference"] == row.target.name
        assert record["option_names"].count("\n") == len(row.options) - 1
        assert row.target.name in record["option_lines"]


def test_difficulty_is_matched_across_splits(exp: Experiment) -> None:
    def profile(split: str) -> tuple[float, float, float]:
        rows = exp.split(split)
        constraints = mean(r.prefs.constraint_count for r in rows)
        near = mean(
            sum(1 for d in r.options if len(violations(d, r.prefs)) == 1) / (len(r.options) - 1) for r in rows
        )
        position = mean([d.name for d in r.options].index(r.target.name) for r in rows)
        return constraints, near, position

    train = profile("train")
    for split in ("dev", "test"):
        other = profile(split)
        assert abs(other[0] - train[0]) < 0.25  # stated wishes per request
        assert abs(other[1] - train[1]) < 0.08  # share of near-miss distractors
        assert abs(other[2] - 1.5) < 0.2  # the answer's position carries no signal


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    a = generate_experiment(3, n_train=100, n_dev=20, n_test=20).records()
    b = generate_experiment(3, n_train=100, n_dev=20, n_test=20).records()
    c = generate_experiment(4, n_train=100, n_dev=20, n_test=20).records()
    assert a == b and a != c
    inputs = [r["input"] for r in a]
    assert len(set(inputs)) == len(inputs)


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"n_test": -1}, "n_test"), ({"n_candidates": 9}, "n_candidates")]
)
def test_bad_sizes_name_the_argument(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(InvalidInput) as e:
        generate_experiment(0, **kwargs)
    assert e.value.details["field"] == field
