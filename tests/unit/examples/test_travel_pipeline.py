"""``loop.yaml`` is the quickstart: a valid pipeline whose values are the settings' defaults, so
``llmloop pipeline run examples/travel/loop.yaml`` and ``llmloop quickstart`` share one cache."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

import llmloop as ll
from llmloop.examples.travel.learn import definition as learn_definition
from llmloop.examples.travel.loop import LoopSettings
from llmloop.examples.travel.pipeline import LOOP_YAML, TURN2_STEP, definition
from llmloop.examples.travel.turn2 import Turn2Settings
from llmloop.services.pipelines.definition import parse_definition

REPO = Path(__file__).resolve().parents[3]


def test_the_documented_file_is_the_packaged_one() -> None:
    assert (REPO / "examples" / "travel" / "loop.yaml").samefile(LOOP_YAML)


def test_it_is_a_valid_pipeline_of_both_turns() -> None:
    defn = ll.pipelines.load(REPO / "examples" / "travel" / "loop.yaml")
    assert [s.name for s in defn.steps] == [
        "data",
        "baseline",
        "base-test",
        "sft",
        "tuned-test",
        "gate",
        "turn2",
    ]
    assert defn.parallelism == 1


def test_its_values_are_the_defaults_the_quickstart_runs() -> None:
    raw = yaml.safe_load(LOOP_YAML.read_text(encoding="utf-8"))
    assert definition(LoopSettings(), Turn2Settings()) == raw


def test_settings_reach_every_step_that_takes_them(tmp_path: Path) -> None:
    settings = LoopSettings(workdir=tmp_path, project="p", seed=3, test_rows=9)
    raw = definition(settings, None)
    assert raw["project"] == "p" and TURN2_STEP not in [s["name"] for s in raw["steps"]]
    configs = [s["config"] for s in raw["steps"]]
    assert all(c["seed"] == 3 for c in configs if "seed" in c)
    assert all(c["test_rows"] == 9 for c in configs if "test_rows" in c)
    assert all(c["workdir"] == str(tmp_path.resolve()) for c in configs if "workdir" in c)
    fast = Turn2Settings(traffic=5, test_rows=4)
    t2 = next(s for s in definition(settings, fast)["steps"] if s["name"] == TURN2_STEP)["config"]
    assert t2["turn2"] == dataclasses.asdict(fast) and t2["test_rows"] == 9  # turn 1's test split stays


def test_the_learning_half_is_a_valid_pipeline_whose_steps_hold_only_what_they_read() -> None:
    """A changed gate re-judges without retraining or re-evaluating: only the gate step's config moves."""
    settings = LoopSettings(project="p", seed=3)

    def learn(t2: Turn2Settings) -> dict[str, dict[str, object]]:
        raw = learn_definition(
            settings, t2, prompt="travel-recommend", drift="travel-drift@2", data="travel@1"
        )
        defn = parse_definition(raw)
        assert defn.project == "p" and [s.name for s in defn.steps] == [
            "export", "sft", "champion-drift", "challenger-drift", "challenger-original", "gate",
        ]  # fmt: skip
        assert defn.step("export").cache is False  # it reads the store's feedback, which no input names
        assert defn.step("champion-drift").inputs == {
            "model": "model:travel-sft@champion",
            "data": "dataset:travel-drift@2",
        }
        return {s.name: s.config for s in defn.steps}

    base = learn(Turn2Settings())
    stricter = learn(Turn2Settings(original_margin=0.01, drift_gate="task_accuracy >= 0.9"))
    assert [n for n in base if base[n] != stricter[n]] == ["gate"]
    longer = learn(Turn2Settings(sft_steps=99))
    assert [n for n in base if base[n] != longer[n]] == ["sft", "gate"]
    assert base["champion-drift"] == {
        "seed": 3,
        "engine": "transformers",
        "prompt": "travel-recommend",
        "test_rows": 300,
    }
