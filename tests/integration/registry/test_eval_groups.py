"""An evaluation of a registered model sends each batch to the engine as one group, so a rerun of the
same suite gives the same answers (bf16 numbers depend on a batch's layout, thread timing must not)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import llmloop as ll
from llmloop.engines.transformers_engine import TransformersEngine


def write_suite(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "rows.jsonl").open("w") as fh:
        for i in range(10):
            fh.write(
                json.dumps({"id": f"r{i}", "input": f"Question {i}: {'why ' * i}sky?", "reference": "blue"})
                + "\n"
            )
    (folder / "suite.yaml").write_text(
        "name: groups\ndataset: {path: rows.jsonl}\nprompt: {template: '{input}'}\nmetrics: [exact_match]\n"
        "generation: {batch_size: 4, max_new_tokens: 6, temperature: 0.0}\n"
    )
    return folder / "suite.yaml"


def test_each_batch_is_one_group_and_a_rerun_answers_alike(
    isolated_home: Path, tiny_llama_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = ll.models.add_base("tiny", tiny_llama_dir).ref
    groups: list[int] = []
    real = TransformersEngine.chat_group

    def spy(self: TransformersEngine, requests: Any) -> Any:
        groups.append(len(requests))
        return real(self, requests)

    monkeypatch.setattr(TransformersEngine, "chat_group", spy)
    suite = write_suite(tmp_path / "s")
    runs = [ll.evaluations.run(suite, model=ref) for _ in "ab"]
    assert groups == [4, 4, 2, 4, 4, 2]  # 10 rows in batches of 4, twice
    answers = [[ex.output for ex in ll.evaluations.examples(ev.id, limit=20).items] for ev in runs]
    assert answers[0] == answers[1] and len(answers[0]) == 10 and all(a is not None for a in answers[0])
    assert all(ev.n_errors == 0 for ev in runs)
