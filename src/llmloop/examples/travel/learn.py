"""``learn.yaml``: turn 2's learning half, the pipeline the drift trigger starts (``watch.py``).

The quickstart writes it beside its data, with the drift slice and turn 1's data pinned, and
``monitoring.yaml``'s trigger names it: export the rater's feedback → LoRA SFT from the champion →
both models on the drifted test slice and the challenger on the original test split → the gates
against the champion, and on a pass promotion and a canary (``turn2_steps``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmloop.examples.travel.loop import TUNED_MODEL, LoopSettings

if TYPE_CHECKING:
    from llmloop.examples.travel.turn2 import Turn2Settings

STEPS = "llmloop.examples.travel.turn2_steps"
# Turn2Settings fields that only the gate step reads: changing one re-judges, it does not retrain
JUDGING = ("drift_gate", "original_margin", "canary_weight", "canary_requests", "workers")


def definition(
    settings: LoopSettings, t2: Turn2Settings, *, prompt: str, drift: str, data: str
) -> dict[str, Any]:
    """``learn.yaml``, turn 2's learning half, which the drift trigger starts: ``prompt`` is the name of
    the prompt the champion serves, ``drift`` and ``data`` the pinned ``travel-drift@N`` and
    ``travel@N`` it is judged on. Each step's config holds only what it reads, so a changed gate
    re-judges without retraining, and the champion's evaluation on the drifted slice is made once."""
    champion = f"model:{TUNED_MODEL}@champion"
    settings_of = {"seed": settings.seed, "engine": settings.engine, "prompt": prompt}
    workdir = None if settings.workdir is None else str(Path(settings.workdir).resolve())
    fields = dataclasses.asdict(t2)
    training = {k: v for k, v in fields.items() if k not in JUDGING}

    def evaluate(name: str, model: str, fn: str, split: str, rows: int) -> dict[str, Any]:
        return {
            "name": name, "kind": f"{STEPS}:{fn}", "inputs": {"model": model, "data": split},
            "config": {**settings_of, "test_rows": rows}, "outputs": {"evaluation": "evaluation"},
        }  # fmt: skip

    return {
        "name": "travel-learn",
        "project": settings.project,
        "description": (
            "Turn 2's learning half, started by the drift trigger: the rater's feedback as datasets, LoRA SFT "
            "from the champion, both models on the drifted test slice, the challenger on the original test "
            "split, the gates against the champion, and on a pass promotion and a canary."
        ),
        "parallelism": 1,
        "steps": [
            {
                "name": "export", "kind": f"{STEPS}:export_feedback", "config": {"workdir": workdir},
                "cache": False,  # it reads the store's feedback, which no input names
                "outputs": {"sft": "dataset", "preference": "dataset"},
            },
            {
                "name": "sft", "kind": f"{STEPS}:train_on_feedback",
                "inputs": {"data": "steps.export.sft", "champion": champion},
                "config": {"seed": settings.seed, "turn2": training}, "outputs": {"model": "model"},
            },
            evaluate("champion-drift", champion, "evaluate_drifted", f"dataset:{drift}", t2.test_rows),
            evaluate("challenger-drift", "steps.sft.model", "evaluate_drifted", f"dataset:{drift}", t2.test_rows),
            evaluate("challenger-original", "steps.sft.model", "evaluate_original", f"dataset:{data}", settings.test_rows),
            {
                "name": "gate", "kind": f"{STEPS}:judge_turn2",
                "inputs": {
                    "champion": champion, "challenger": "steps.sft.model",
                    "champion_drift": "steps.champion-drift.evaluation",
                    "challenger_drift": "steps.challenger-drift.evaluation",
                    "challenger_original": "steps.challenger-original.evaluation",
                    "drift": f"dataset:{drift}", "data": f"dataset:{data}",
                },
                "config": {**settings_of, "test_rows": settings.test_rows, "workdir": workdir, "turn2": fields},
                "outputs": {"outcome": "value"},
            },
        ],
    }  # fmt: skip
