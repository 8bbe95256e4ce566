"""Generated rows: determinism, shape, the hold-out, and agreement with the rule-based ground truth."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from llmloop.errors import InvalidInput
from llmloop.examples.travel import main, write_dataset_files
from llmloop.examples.travel.generate import Generated, generate
from llmloop.examples.travel.phrasing import SYSTEM_PROMPT, TEMPLATES
from llmloop.examples.travel.rules import recommend
from llmloop.examples.travel.scoring import parse_recommendation, recommendation_correct

SIZES = {"n_sft": 300, "n_pref": 120, "n_eval": 80}
ANSWER = re.compile(r"Recommendation: (?P<name>[^,\n]+), (?P<country>[^\n]+)\nWhy: [^\n]+\.")


@pytest.fixture(scope="module")
def data() -> Generated:
    return generate(0, **SIZES)


def _read(paths: dict[str, Path]) -> dict[str, bytes]:
    return {split: path.read_bytes() for split, path in paths.items()}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    first = _read(write_dataset_files(tmp_path / "a", seed=0, **SIZES))
    again = _read(write_dataset_files(tmp_path / "b", seed=0, **SIZES))
    other = _read(write_dataset_files(tmp_path / "c", seed=1, **SIZES))
    assert first == again
    assert all(first[split] != other[split] for split in first)
    # Atomic writes leave no temp files behind.
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "eval.jsonl",
        "preference.jsonl",
        "sft.jsonl",
    ]


def test_bytes_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    # Set iteration order changes with PYTHONHASHSEED; the files must not.
    here = _read(write_dataset_files(tmp_path / "here", seed=3, n_sft=50, n_pref=20, n_eval=20))
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-m", "llmloop.examples.travel", str(tmp_path / "there"), "--seed", "3",
           "--n-sft", "50", "--n-pref", "20", "--n-eval", "20"]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=60)
    assert "sft            50 rows" in done.stdout
    there = {split: (tmp_path / "there" / f"{split}.jsonl").read_bytes() for split in here}
    assert here == there


def test_row_counts_and_schemas(tmp_path: Path) -> None:
    paths = write_dataset_files(tmp_path, seed=0, **SIZES)
    rows = {
        split: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for split, path in paths.items()
    }
    assert {k: len(v) for k, v in rows.items()} == {"sft": 300, "preference": 120, "eval": 80}
    for row in rows["sft"]:
        assert list(row) == ["messages"]
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
        assert row["messages"][0]["content"] == SYSTEM_PROMPT
        assert all(isinstance(m["content"], str) and m["content"] for m in row["messages"])
        assert ANSWER.fullmatch(row["messages"][2]["content"])
    for row in rows["preference"]:
        assert list(row) == ["prompt", "chosen", "rejected"]
        assert ANSWER.fullmatch(row["chosen"]) and ANSWER.fullmatch(row["rejected"])
        assert row["chosen"] != row["rejected"]
    for row in rows["eval"]:
        assert list(row) == ["input", "reference", "metadata"]
        meta = row["metadata"]
        assert set(meta) == {"task", "template", "target", "acceptable", "options", "preferences"}
        assert meta["acceptable"] == [meta["target"]] and meta["target"] in meta["options"]
        assert set(meta["preferences"]) == {"activities", "climate", "budget", "month", "region", "party"}
        assert ANSWER.fullmatch(row["reference"])
    inputs = [r["messages"][1]["content"] for r in rows["sft"]] + [r["prompt"] for r in rows["preference"]]
    inputs += [r["input"] for r in rows["eval"]]
    assert len(set(inputs)) == len(inputs)


def test_answers_stay_short(data: Generated) -> None:
    # ~40 tokens is the budget; words are a CPU-cheap, tokenizer-free proxy (SmolLM2: ~21 tokens measured).
    assert max(len(e.answer.split()) for e in data.sft) <= 25


def test_eval_is_held_out_by_destination_and_template(data: Generated, tmp_path: Path) -> None:
    held = set(data.holdout.eval_destinations)
    held_templates = set(data.holdout.eval_templates)
    assert len(held) == 14 and len(held_templates) == 5
    for e in data.sft + data.preference:
        assert not {d.name for d in e.options} & held
        assert e.template.id not in held_templates
    for e in data.eval:
        assert {d.name for d in e.options} <= held
        assert e.template.id in held_templates
    # And at the level of the written text: no eval destination name appears in any training file.
    paths = write_dataset_files(tmp_path, seed=0, **SIZES)
    training_text = (paths["sft"].read_text() + paths["preference"].read_text()).lower()
    for name in held:
        assert re.search(rf"\b{re.escape(name.lower())}\b", training_text) is None, name
    # Every template is used somewhere, and all of the training destinations are targets.
    assert {e.template.id for e in data.sft + data.eval} == {t.id for t in TEMPLATES}
    assert len({e.target.name for e in data.sft}) == 70 - 14


def test_target_is_the_unique_acceptable_option_and_ranks_first(data: Generated) -> None:
    for e in data.sft + data.preference + data.eval:
        ranked = recommend(e.prefs, e.options)
        assert ranked[0].destination == e.target
        assert [r.destination.name for r in ranked if r.acceptable] == [e.target.name]
        assert ranked[1].destination == e.rejected and ranked[1].violations


def test_skiing_requests_never_get_tropical_beaches(data: Generated) -> None:
    skiing = [e for e in data.sft + data.eval if "skiing" in e.prefs.activities]
    assert skiing
    for e in skiing:
        assert "skiing" in e.target.activities and e.target.climate != "tropical"


def test_answer_position_is_balanced(data: Generated) -> None:
    positions = Counter(e.options.index(e.target) for e in data.sft)
    assert set(positions) == {0, 1, 2, 3}
    assert min(positions.values()) >= 0.15 * len(data.sft)


def test_chosen_is_correct_and_rejected_is_not(data: Generated) -> None:
    for e in data.preference + data.eval:
        meta = e.eval_row()["metadata"]
        assert recommendation_correct(e.answer, meta) == 1.0
        assert recommendation_correct(e.rejected_answer, meta) == 0.0
        assert parse_recommendation(e.rejected_answer) == e.rejected.name


def test_sizes_and_candidates_are_configurable() -> None:
    small = generate(5, n_sft=0, n_pref=3, n_eval=2, n_candidates=2)
    assert (len(small.sft), len(small.preference), len(small.eval)) == (0, 3, 2)
    assert all(len(e.options) == 2 for e in small.preference + small.eval)
    with pytest.raises(InvalidInput, match="n_sft"):
        generate(0, n_sft=-1)
    with pytest.raises(InvalidInput, match="n_candidates"):
        generate(0, n_candidates=1)


def test_main_writes_files_and_reports_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main([str(tmp_path / "out"), "--seed", "2", "--n-sft", "10", "--n-pref", "4", "--n-eval", "3"]) == 0
    )
    out = capsys.readouterr().out
    assert re.search(r"^sft\s+10 rows", out, re.M) and re.search(r"^eval\s+3 rows", out, re.M)
    assert len((tmp_path / "out" / "preference.jsonl").read_text().splitlines()) == 4
