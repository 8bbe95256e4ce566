"""The built-in kinds end to end on a tiny model: ingest -> train (LoRA SFT) -> promote -> deploy -> canary."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.train.conftest import build_tiny_model, qa_rows, write_jsonl

import llmloop as ll


@pytest.mark.slow
def test_train_promote_deploy_canary(tmp_path: Path) -> None:
    base = build_tiny_model(tmp_path / "tiny")
    write_jsonl(tmp_path / "qa.jsonl", qa_rows(16))
    training = {
        "name": "tiny-sft",
        "model": {"base": str(base)},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"max_steps": 2, "batch_size": 8, "max_seq_length": 64, "bf16": False, "log_every": 1},
    }
    defn = {
        "name": "release",
        "base_dir": str(tmp_path),
        "steps": [
            {"name": "data", "kind": "ingest", "config": {"name": "qa", "path": "qa.jsonl"}},
            {"name": "parts", "kind": "split", "inputs": {"data": "steps.data.dataset"},
             "config": {"fractions": {"train": 0.75, "test": 0.25}, "into": "datasets"}},
            {"name": "sft", "kind": "train", "inputs": {"data": "steps.parts.train"}, "config": training},
            {"name": "champion", "kind": "promote", "inputs": {"model": "steps.sft.model"},
             "config": {"alias": "champion", "reason": "pipeline"}},
            {"name": "serve", "kind": "deploy", "inputs": {"model": "steps.champion.model"},
             "config": {"name": "tiny"}},
            {"name": "try", "kind": "canary", "inputs": {"model": "steps.sft.model", "stable": "steps.champion.model"},
             "config": {"name": "tiny", "weight": 0.25}, "after": ["serve"]},
        ],
    }  # fmt: skip
    run = ll.pipelines.run(defn, executor="inline")
    assert run.status == "finished", [(s.name, s.error) for s in run.steps]
    assert run.step("parts").outputs == {"dataset": "dataset:qa-train@1", "train": "dataset:qa-train@1",
                                         "test": "dataset:qa-test@1"}  # fmt: skip
    assert run.step("sft").outputs["model"] == "model:tiny-sft@1"
    assert run.step("champion").outputs == {"model": "model:tiny-sft@1"}
    assert run.step("try").outputs == {"deployment": "tiny@2"}
    client = ll.get_client()
    assert "champion" in client.models.get_version("tiny-sft@1").aliases
    spec = client.deployments.get_deployment("tiny").spec
    assert (spec.policy, [(t.model, t.weight) for t in spec.targets]) == (
        "weighted", [("tiny-sft@1", 0.75), ("tiny-sft@1", 0.25)],
    )  # fmt: skip
    trained = client.runs.get_run(run.step("sft").outputs["run"])
    assert trained.status == "finished" and "train_loss" in trained.metrics
