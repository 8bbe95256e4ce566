"""A distilled student's lineage names the teacher-made dataset it trained on, not only the prompts.

Distillation trains on a dataset it makes itself (the teacher's answers), after the inputs read
at start; that dataset must reach the run's inputs, the version's ``train_data`` edges, the card's
Data section and ``llmloop models lineage`` like any dataset a run reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import llmloop as ll


def _first_word(prompts: list[list[dict[str, str]]]) -> list[str]:
    return [p[-1]["content"].split(": ", 1)[1].split(" or ")[0] for p in prompts]


def test_the_student_card_and_lineage_list_the_teacher_made_dataset(
    tiny_config: Callable[..., dict[str, Any]], data_dir: Path, cli: Any
) -> None:
    prompts = ll.datasets.add("pick-prompts", data_dir / "prompts.jsonl").ref
    cfg = tiny_config(
        name="student",
        method="distill",
        data={"train": None, "eval": None, "system_prompt": "Answer with one word."},
        distill={"teacher": "first-word-teacher", "prompts": prompts},
        training={"max_steps": 1},
    )
    result = ll.train(cfg, teacher=_first_word)
    distilled = result.dataset_version
    assert result.model_version == "student@1" and distilled == "student-distilled@1"

    card = ll.models.card("student@1")
    data = card[card.index("## Data") : card.index("## Evaluation")]
    assert f"| {prompts} | prompts |" in data
    assert f"| {distilled} | train_data | 12 | chat |" in data

    lineage = ll.models.lineage("student@1")
    into_version = {(e.label, e.relation) for e in lineage.upstream if e.dst_type == "model_version"}
    assert {(prompts, "prompts"), (distilled, "train_data")} <= into_version
    into_run = {(e.label, e.relation) for e in lineage.upstream if e.dst_type == "run"}
    assert (distilled, "train_data") in into_run  # the run read it, as it reads any training set

    shown = cli("models", "lineage", "student@1", "--json")
    assert shown.exit_code == 0, shown.stderr
    labels = {e["label"] for e in json.loads(shown.stdout)["upstream"]}
    assert {prompts, distilled} <= labels
    text = cli("models", "lineage", "student@1").stdout
    assert distilled in text and prompts in text
