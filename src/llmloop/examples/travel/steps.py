"""The travel loop's steps, as the pipeline ``loop.yaml`` names them (``module:function`` steps).

Each step is a plain function of its inputs (store references from earlier steps, without their
type prefix: ``travel@3``, an evaluation id) and its config, and returns its outputs as JSON. The
pipeline runner keys each one's cache on this module's source, its config and its inputs' content,
so a second run with nothing changed reuses every output and reads no model.

Turn 2's steps are in ``turn2_steps`` (so that editing turn 2 leaves turn 1's cache keys alone: a step's
code version covers its module and the modules beside it that it imports). The config keys are
``LoopSettings`` fields (turn 2 takes ``Turn2Settings`` fields under ``turn2``);
``pipeline.definition`` writes a ``LoopSettings`` into them, which is how ``llmloop quickstart`` and
``llmloop pipeline run examples/travel/loop.yaml`` run the same loop.
"""

from __future__ import annotations

from typing import Any

import llmloop as ll
from llmloop.examples.travel import loop as travel
from llmloop.examples.travel.loop import LoopSettings, PromptChoice


def settings_for(project: str, workdir: str | None, **fields: Any) -> LoopSettings:
    """The loop's settings inside a step (files go to LLMLOOP_HOME/quickstart unless ``workdir``)."""
    return LoopSettings(workdir=workdir, project=project, **fields)


def data(
    *, project: str, seed: int, train_rows: int, dev_rows: int, test_rows: int, workdir: str | None = None
) -> dict[str, Any]:
    """Write the train/dev/test rows and register them with both prompts (same content: same versions)."""
    settings = settings_for(
        project, workdir, seed=seed, train_rows=train_rows, dev_rows=dev_rows, test_rows=test_rows
    )
    handle = travel.prepare(settings)
    return {"dataset": handle.ref}


def choose_baseline(*, data: str, project: str, seed: int, dev_rows: int, engine: str) -> dict[str, Any]:
    """The base model's best prompt on dev, frozen here before any step reads the test split."""
    settings = settings_for(project, None, seed=seed, dev_rows=dev_rows, engine=engine)
    ranked = travel.choose_baseline(settings, data=data)
    best = ranked[0][0]
    return {
        "choice": {
            "prompt": best.prompt,
            "shots": best.shots,
            "dev_scores": [{"prompt": c.prompt, "shots": c.shots, "score": s} for c, s in ranked],
        }
    }


def evaluate_base(
    *, data: str, choice: dict[str, Any], project: str, seed: int, test_rows: int, engine: str
) -> dict[str, Any]:
    """The base model on test, asked through the prompt chosen on dev."""
    settings = settings_for(project, None, seed=seed, test_rows=test_rows, engine=engine)
    picked = PromptChoice(choice["prompt"], choice["shots"])
    ev = travel.evaluate(settings, travel.BASE_MODEL, picked, data=data)
    return {"evaluation": ev.id}


def train_sft(
    *, data: str, project: str, seed: int, sft_steps: int, learning_rate: float, dev_rows: int
) -> dict[str, Any]:
    """LoRA SFT on the train split (its eval loss reads dev only); the model version it registered."""
    settings = settings_for(
        project, None, seed=seed, sft_steps=sft_steps, learning_rate=learning_rate, dev_rows=dev_rows
    )
    result = ll.train(travel.sft_config(settings, data=data), progress=True)
    return {"model": str(result.model_version)}


def evaluate_tuned(
    *, data: str, model: str, project: str, seed: int, test_rows: int, engine: str
) -> dict[str, Any]:
    """The fine-tune on test with the prompt it learned (recorded on its version)."""
    settings = settings_for(project, None, seed=seed, test_rows=test_rows, engine=engine)
    ev = travel.evaluate(settings, model, PromptChoice(travel.tuned_prompt(model, project), 0), data=data)
    return {"evaluation": ev.id}


def gate(*, base: str, tuned: str, model: str, project: str, workdir: str | None = None) -> dict[str, Any]:
    """Compare (paired bootstrap CIs, a report), check the loop's fixed gates, promote on a pass."""
    settings = settings_for(project, workdir)
    outcome = travel.decide(settings, base, tuned, model)
    return {"verdict": outcome.model_dump(mode="json")}
