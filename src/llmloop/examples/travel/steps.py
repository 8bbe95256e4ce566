"""The travel loop's steps, as the pipeline ``loop.yaml`` names them (``module:function`` steps).

Each step is a plain function of its inputs (store references from earlier steps, without their
type prefix: ``travel@3``, an evaluation id) and its config, and returns its outputs as JSON. The
pipeline runner keys each one's cache on this module's source, its config and its inputs' content,
so a second run with nothing changed reuses every output and reads no model.

The config keys are ``LoopSettings`` fields (turn 2 takes ``Turn2Settings`` fields under ``turn2``);
``pipeline.definition`` writes a ``LoopSettings`` into them, which is how ``llmloop quickstart`` and
``llmloop pipeline run examples/travel/loop.yaml`` run the same loop.
"""

from __future__ import annotations

from typing import Any

import llmloop as ll
from llmloop.examples.travel import loop as travel
from llmloop.examples.travel.loop import LoopSettings, PromptChoice


def _settings(project: str, workdir: str | None, **fields: Any) -> LoopSettings:
    """The loop's settings inside a step (files go to LLMLOOP_HOME/quickstart unless ``workdir``)."""
    return LoopSettings(workdir=workdir, project=project, **fields)


def data(
    *, project: str, seed: int, train_rows: int, dev_rows: int, test_rows: int, workdir: str | None = None
) -> dict[str, Any]:
    """Write the train/dev/test rows and register them with both prompts (same content: same versions)."""
    settings = _settings(
        project, workdir, seed=seed, train_rows=train_rows, dev_rows=dev_rows, test_rows=test_rows
    )
    handle = travel.prepare(settings)
    return {"dataset": handle.ref}


def choose_baseline(*, data: str, project: str, seed: int, dev_rows: int, engine: str) -> dict[str, Any]:
    """The base model's best prompt on dev, frozen here before any step reads the test split."""
    settings = _settings(project, None, seed=seed, dev_rows=dev_rows, engine=engine)
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
    settings = _settings(project, None, seed=seed, test_rows=test_rows, engine=engine)
    picked = PromptChoice(choice["prompt"], choice["shots"])
    ev = travel.evaluate(settings, travel.BASE_MODEL, picked, data=data)
    return {"evaluation": ev.id}


def train_sft(
    *, data: str, project: str, seed: int, sft_steps: int, learning_rate: float, dev_rows: int
) -> dict[str, Any]:
    """LoRA SFT on the train split (its eval loss reads dev only); the model version it registered."""
    settings = _settings(
        project, None, seed=seed, sft_steps=sft_steps, learning_rate=learning_rate, dev_rows=dev_rows
    )
    result = ll.train(travel.sft_config(settings, data=data), progress=True)
    return {"model": str(result.model_version)}


def evaluate_tuned(
    *, data: str, model: str, project: str, seed: int, test_rows: int, engine: str
) -> dict[str, Any]:
    """The fine-tune on test with the prompt it learned (recorded on its version)."""
    settings = _settings(project, None, seed=seed, test_rows=test_rows, engine=engine)
    ev = travel.evaluate(settings, model, PromptChoice(travel.tuned_prompt(model, project), 0), data=data)
    return {"evaluation": ev.id}


def gate(*, base: str, tuned: str, model: str, project: str, workdir: str | None = None) -> dict[str, Any]:
    """Compare (paired bootstrap CIs, a report), check the loop's fixed gates, promote on a pass."""
    settings = _settings(project, workdir)
    outcome = travel.decide(settings, base, tuned, model)
    return {"verdict": outcome.model_dump(mode="json")}


def second_turn(
    *,
    verdict: dict[str, Any],
    data: str,
    project: str,
    seed: int,
    test_rows: int,
    engine: str,
    turn2: dict[str, Any],
    workdir: str | None = None,
) -> dict[str, Any]:
    """Turn 2 (deploy, learn from production, gate against the champion, canary) when turn 1 promoted."""
    from llmloop.examples.travel import turn2 as second

    if not verdict["promoted"]:
        return {"summary": {"skipped": "turn 1's gates failed, so there is no new champion to deploy"}}
    settings = _settings(project, workdir, seed=seed, test_rows=test_rows, engine=engine)
    summary = second.run_turn2(settings, second.Turn2Settings(**turn2), data=data)
    return {"summary": second.Turn2Outcome.of(summary).model_dump(mode="json")}


# ---- learn.yaml: turn 2's learning half, which the drift trigger starts (``pipeline.learn_definition``)


def export_feedback(*, project: str, workdir: str | None = None) -> dict[str, Any]:
    """``feedback export --as sft`` and ``--as preference``: datasets with lineage to the rated traces."""
    from llmloop.examples.travel import turn2 as second

    return second.export(project, _settings(project, workdir).folder)


def train_on_feedback(
    *, data: str, champion: str, project: str, seed: int, turn2: dict[str, Any]
) -> dict[str, Any]:
    """LoRA SFT on the corrections and approved answers, starting from the champion."""
    from llmloop.examples.travel import turn2 as second

    t2 = second.Turn2Settings(**turn2)
    result = ll.train(
        second.sft_config(_settings(project, None, seed=seed), t2, champion, data), progress=True
    )
    return {"model": str(result.model_version)}


def _evaluate(model: str, suite: Any, project: str) -> dict[str, Any]:
    return {"evaluation": ll.evaluations.run(suite, model=model, project=project, progress=True).id}


def evaluate_drifted(
    *, model: str, data: str, project: str, seed: int, engine: str, prompt: str, test_rows: int
) -> dict[str, Any]:
    """``model`` on the drifted test slice of ``data`` (its gates are checked by ``judge_turn2``)."""
    from llmloop.examples.travel.turn2 import DRIFT_DATASET

    settings = _settings(project, None, seed=seed, engine=engine)
    suite = travel.build_suite(
        settings, PromptChoice(prompt, 0), dataset=DRIFT_DATASET, limit=test_rows, gates=[], data=data
    )
    return _evaluate(model, suite, project)


def evaluate_original(
    *, model: str, data: str, project: str, seed: int, engine: str, prompt: str, test_rows: int
) -> dict[str, Any]:
    """``model`` on turn 1's test split of ``data``."""
    settings = _settings(project, None, seed=seed, engine=engine, test_rows=test_rows)
    return _evaluate(
        model, travel.build_suite(settings, PromptChoice(prompt, 0), gates=[], data=data), project
    )


def judge_turn2(
    *,
    champion: str,
    challenger: str,
    champion_drift: str,
    challenger_drift: str,
    challenger_original: str,
    drift: str,
    data: str,
    project: str,
    seed: int,
    engine: str,
    prompt: str,
    test_rows: int,
    turn2: dict[str, Any],
    workdir: str | None = None,
) -> dict[str, Any]:
    """Turn 2's gates against the champion; on a pass, promotion and the canary."""
    from llmloop.examples.travel import turn2 as second

    settings = _settings(project, workdir, seed=seed, engine=engine, test_rows=test_rows)
    judged = second.judge(
        settings, second.Turn2Settings(**turn2), champion=champion, challenger=challenger,
        evaluations=(champion_drift, challenger_drift, challenger_original), prompt=prompt, drift=drift, data=data,
    )  # fmt: skip
    return {"outcome": judged.model_dump(mode="json")}
