"""The training methods end to end on the real SmolLM2-135M weights, in short configurations.

One chain, as a user would run it: SFT from the packaged model reference (registered as a version
with lineage) → DPO continuing from that version → distillation with the packaged model as the
teacher through the engine interface → a two-trial sweep. Each does a step or two; correctness of
the losses is covered on the tiny model, this checks that the real weights flow through every path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import llmloop as ll
from llmloop.examples.travel import SYSTEM_PROMPT, write_dataset_files

pytestmark = pytest.mark.slow


def _config(files: dict[str, Path], **sections: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "name": "travel-sft",
        "project": "travel",
        "method": "sft",
        "model": {"base": "smollm2-135m-instruct"},
        "data": {"train": str(files["sft"]), "max_train_rows": 16, "system_prompt": SYSTEM_PROMPT},
        "lora": {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]},
        "training": {"max_steps": 2, "batch_size": 4, "max_seq_length": 256, "log_every": 1},
    }
    for key, value in sections.items():
        cfg[key] = {**cfg.get(key, {}), **value} if isinstance(value, dict) else value
    return cfg


def test_sft_dpo_distill_and_sweep_on_smollm2(isolated_home: Path, tmp_path: Path) -> None:
    data = write_dataset_files(tmp_path / "data", n_sft=32, n_pref=16, n_eval=8)

    sft = ll.train(_config(data))
    assert (sft.status, sft.steps, sft.model_version) == ("finished", 2, "travel-sft@1")
    version = ll.models.get("travel-sft@1", project="travel")
    assert version.base.version == "smollm2-135m-instruct@1" and version.adapter is not None
    assert version.run_id == sft.run_id

    dpo = ll.train(
        _config(
            data,
            name="travel-dpo",
            method="dpo",
            model={"base": "travel-sft@1"},
            data={"train": str(data["preference"]), "max_train_rows": 8},
            training={"max_steps": 1, "batch_size": 2},
        )
    )
    assert dpo.status == "finished" and dpo.model_version == "travel-dpo@1"
    # one exact adapter over the packaged base: the SFT adapter stacked with the DPO one
    assert ll.models.get("travel-dpo@1", project="travel").base.version == "smollm2-135m-instruct@1"

    prompts = tmp_path / "prompts.jsonl"
    rows = data["eval"].read_text().splitlines()[:4]
    prompts.write_text("".join(json.dumps({"prompt": json.loads(r)["input"]}) + "\n" for r in rows))
    distill = ll.train(
        _config(
            data,
            name="travel-student",
            method="distill",
            data={"train": None},
            distill={
                "teacher": "smollm2-135m-instruct",
                "prompts": str(prompts),
                "max_new_tokens": 24,
                "engine": "llamacpp",
            },
            training={"max_steps": 1},
        )
    )
    assert distill.status == "finished" and distill.dataset_version == "travel-student-distilled@1"
    assert len(list(ll.datasets.get("travel-student-distilled@1", project="travel").iter_rows())) == 4

    (tmp_path / "sft.yaml").write_text(
        yaml.safe_dump(_config(data, name="travel-sweep", data={"eval": str(data["eval"])}))
    )
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(
        yaml.safe_dump(
            {
                "name": "lr",
                "train": "sft.yaml",
                "trials": 2,
                "overrides": {"training.eval_steps": 1, "training.max_steps": 1},
                "space": {
                    "training.learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}
                },
                "objective": {"metric": "eval_loss", "direction": "minimize"},
            }
        )
    )
    swept = ll.sweep(sweep_file)
    assert [t.state for t in swept.trials] == ["COMPLETE", "COMPLETE"]
    assert swept.best is not None and swept.best.value is not None
