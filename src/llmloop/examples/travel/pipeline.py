"""The travel loop as the pipeline ``loop.yaml``, with a ``LoopSettings`` written into its steps.

``llmloop quickstart`` and ``run_loop`` run it here, in this process (the inline executor: the
steps share one loaded model cache and print their progress to this terminal), one step at a
time; ``llmloop pipeline run examples/travel/loop.yaml`` runs the same file, each step in its own
process. Both go through the pipeline cache, so an unchanged second run reuses every step.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

import llmloop as ll
from llmloop.errors import LlmloopError
from llmloop.examples.travel.loop import (
    Decision,
    LoopSettings,
    LoopSummary,
    PromptChoice,
    Step,
    tuned_prompt,
)
from llmloop.examples.travel.turn2 import Turn2Outcome, Turn2Settings
from llmloop.services.pipelines.runner import Report
from llmloop.services.pipelines.schemas import PipelineRun, StepStatus

LOOP_YAML = Path(__file__).with_name("loop.yaml")
TURN2_STEP = "turn2"


def definition(settings: LoopSettings, t2: Turn2Settings | None) -> dict[str, Any]:
    """``loop.yaml`` with each step's config read from ``settings`` (and ``t2``); without ``t2``,
    turn 1 only. Every config key of the file is a settings field, so nothing is left at the
    file's value by accident."""
    raw: dict[str, Any] = yaml.safe_load(LOOP_YAML.read_text(encoding="utf-8"))
    raw["project"] = settings.project
    steps = []
    for step in raw["steps"]:
        if step["name"] == TURN2_STEP and t2 is None:
            continue
        config = step.get("config", {})
        for key in config:
            if key == "turn2":
                config[key] = dataclasses.asdict(t2) if t2 is not None else {}
            elif key == "workdir":
                config[key] = None if settings.workdir is None else str(Path(settings.workdir).resolve())
            else:
                config[key] = getattr(settings, key)
        steps.append(step)
    raw["steps"] = steps
    return raw


def run(settings: LoopSettings, t2: Turn2Settings | None, *, report: Report | None = None) -> PipelineRun:
    """Run the loop through the pipeline cache in this process; raises with the first failed step's error."""
    result: PipelineRun = ll.pipelines.run(definition(settings, t2), executor="inline", report=report)
    failed = [s for s in result.steps if s.state == "failed"]
    if failed:
        raise LlmloopError(
            f"pipeline {result.name} run {result.id}: step {failed[0].name} failed: {failed[0].error}",
            details={"run": result.id, "step": failed[0].name},
        )
    return result


def _value(run: PipelineRun, step: str, output: str) -> Any:
    return run.step(step).outputs[output]


def _ref(run: PipelineRun, step: str, output: str) -> str:
    """A typed output without its prefix: ``model:travel-sft@2`` -> ``travel-sft@2``."""
    return str(_value(run, step, output)).partition(":")[2]


def step_rows(run: PipelineRun) -> list[Step]:
    """One row per step: its seconds, whether it ran or came from the cache, and what it gave."""
    said = {"finished": "ran", "cached": "from the cache"}

    def detail(s: StepStatus) -> str:
        outs = ", ".join(str(v) for v in s.outputs.values() if not isinstance(v, (dict, list)))
        return said.get(s.state, s.state) + (f": {outs}" if outs else "")

    return [Step(s.name, round(s.duration_s or 0.0, 1), detail(s)) for s in run.steps]


def turn1_summary(run: PipelineRun) -> LoopSummary:
    """Turn 1's figures from the run's outputs (a cached run has them too: nothing is recomputed)."""
    decision = Decision.model_validate(_value(run, "gate", "verdict"))
    choice = _value(run, "baseline", "choice")
    model = _ref(run, "sft", "model")
    return LoopSummary(
        run.project,
        ll.evaluations.get(_ref(run, "base-test", "evaluation")),
        ll.evaluations.get(_ref(run, "tuned-test", "evaluation")),
        model,
        decision.comparison,
        decision.verdict,
        decision.promoted,
        PromptChoice(choice["prompt"], choice["shots"]),
        tuned_prompt(model, run.project),
        [(PromptChoice(d["prompt"], d["shots"]), float(d["score"])) for d in choice["dev_scores"]],
        step_rows(run),
    )


def turn2_outcome(run: PipelineRun) -> Turn2Outcome | str:
    """Turn 2's outcome, or why it did not run (turn 1 did not promote)."""
    summary = _value(run, TURN2_STEP, "summary")
    if "skipped" in summary:
        return str(summary["skipped"])
    return Turn2Outcome.model_validate(summary)
