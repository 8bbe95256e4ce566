"""Turn 2's steps: ``second_turn`` in ``loop.yaml``, and the steps of ``learn.yaml`` (``learn.py``).

Kept apart from turn 1's ``steps``: a step's code version covers its module and the modules beside
it that it imports at top level, so changing turn 2 (``turn2.py``, ``watch.py``, ``drift.py``) moves
these steps' cache keys and leaves turn 1's trained and evaluated steps in the cache.
"""

from __future__ import annotations

from typing import Any

import llmloop as ll
from llmloop.examples.travel import turn2 as second
from llmloop.examples.travel.steps import settings_for


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
    if not verdict["promoted"]:
        return {"summary": {"skipped": "turn 1's gates failed, so there is no new champion to deploy"}}
    settings = settings_for(project, workdir, seed=seed, test_rows=test_rows, engine=engine)
    summary = second.run_turn2(settings, second.Turn2Settings(**turn2), data=data)
    return {"summary": second.Turn2Outcome.of(summary).model_dump(mode="json")}


# ---- learn.yaml: turn 2's learning half, which the drift trigger starts (``learn.definition``)


def export_feedback(*, project: str, workdir: str | None = None) -> dict[str, Any]:
    """``feedback export --as sft`` and ``--as preference``: datasets with lineage to the rated traces."""
    return second.export(project, settings_for(project, workdir).folder)


def train_on_feedback(
    *, data: str, champion: str, project: str, seed: int, turn2: dict[str, Any]
) -> dict[str, Any]:
    """LoRA SFT on the corrections and approved answers, starting from the champion."""
    t2 = second.Turn2Settings(**turn2)
    result = ll.train(
        second.sft_config(settings_for(project, None, seed=seed), t2, champion, data), progress=True
    )
    return {"model": str(result.model_version)}


def _evaluate(model: str, suite: Any, project: str) -> dict[str, Any]:
    return {"evaluation": ll.evaluations.run(suite, model=model, project=project, progress=True).id}


def evaluate_drifted(
    *, model: str, data: str, project: str, seed: int, engine: str, prompt: str, test_rows: int
) -> dict[str, Any]:
    """``model`` on the drifted test slice of ``data`` (its gates are checked by ``judge_turn2``)."""
    settings = settings_for(project, None, seed=seed, engine=engine)
    return _evaluate(model, second.drift_suite(settings, prompt, data, limit=test_rows), project)


def evaluate_original(
    *, model: str, data: str, project: str, seed: int, engine: str, prompt: str, test_rows: int
) -> dict[str, Any]:
    """``model`` on turn 1's test split of ``data``."""
    settings = settings_for(project, None, seed=seed, engine=engine, test_rows=test_rows)
    return _evaluate(model, second.original_suite(settings, prompt, data), project)


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
    settings = settings_for(project, workdir, seed=seed, engine=engine, test_rows=test_rows)
    judged = second.judge(
        settings, second.Turn2Settings(**turn2), champion=champion, challenger=challenger,
        evaluations=(champion_drift, challenger_drift, challenger_original), prompt=prompt, drift=drift, data=data,
    )  # fmt: skip
    return {"outcome": judged.model_dump(mode="json")}
