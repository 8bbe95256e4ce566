"""``llmloop train`` and ``llmloop sweep`` from the command line: exit codes and the one stderr line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


def write(tmp_path: Path, raw: dict[str, Any], name: str = "sft.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_train_prints_the_run_and_json(
    cli: Any, tiny_config: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    path = write(tmp_path, tiny_config(training={"max_steps": 2}))
    out = cli("train", path, "--no-progress")
    assert out.exit_code == 0, out.stderr
    assert "finished: 2/2 steps, train loss" in out.stdout and "adapter stored with the run" in out.stdout
    out = cli("train", path, "--set", "training.max_steps=1", "--json")
    assert out.exit_code == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["steps"] == 1 and body["status"] == "finished" and body["method"] == "sft"
    shown = cli("runs", "show", body["run_id"], "--json")
    assert json.loads(shown.stdout)["params"]["training.max_steps"] == "1"


def test_plan_prints_derived_numbers_and_exits_1_when_it_cannot_fit(
    cli: Any, tiny_config: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    path = write(
        tmp_path, tiny_config(training={"batch_size": 4, "gradient_accumulation_steps": 2, "max_steps": 5})
    )
    out = cli("train", "--plan", path)
    assert out.exit_code == 0, out.stderr
    for line in (
        "effective batch   8 rows per optimizer step",
        "steps             5 (6 per epoch)",
        "-> fits",
    ):
        assert line in out.stdout
    assert json.loads(cli("train", "--plan", path, "--json").stdout)["total_steps"] == 5
    out = cli("train", "--plan", path, "--set", "compute.memory_limit_gb=0.01")
    assert out.exit_code == 1 and "DOES NOT FIT" in out.stdout
    out = cli("train", path, "--set", "compute.memory_limit_gb=0.01")
    assert out.exit_code == 2 and out.stderr.startswith("error: this training needs ≈")
    assert cli("runs", "list", "--json").stdout.count('"id"') == 0  # nothing started


def test_config_mistakes_exit_2_with_one_line(
    cli: Any, tiny_config: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    raw = tiny_config()
    raw["training"]["lr"] = 0.1
    out = cli("train", write(tmp_path, raw))
    assert out.exit_code == 2
    assert out.stderr.strip().endswith("unknown key 'training.lr'; did you mean 'training.learning_rate'?")
    assert len(out.stderr.strip().splitlines()) == 1

    out = cli("train", str(tmp_path / "missing.yaml"))
    assert out.exit_code == 2 and out.stderr.startswith("error: config file not found:")
    out = cli("train", write(tmp_path, tiny_config()), "--set", "training.bach_size=4")
    assert out.exit_code == 2 and "did you mean 'training.batch_size'?" in out.stderr
    out = cli("train", write(tmp_path, tiny_config()), "--set", "nonsense")
    assert out.exit_code == 2 and "expected KEY=VALUE" in out.stderr
    out = cli("train")
    assert out.exit_code == 2 and "give a CONFIG file, or --resume RUN_ID" in out.stderr
    out = cli("train", "--resume", "0123456789abcdef")
    assert out.exit_code == 2 and out.stderr.startswith("error: run '0123456789abcdef' not found")


def test_sweep_cli_reports_bad_keys(
    cli: Any, tiny_config: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    write(tmp_path, tiny_config())
    spec = {
        "name": "s",
        "train": "sft.yaml",
        "space": {"lora.rank": {"type": "categorical", "choices": [2, 4]}},
    }
    out = cli("sweep", write(tmp_path, spec, "sweep.yaml"))
    assert out.exit_code == 2 and "unknown key 'lora.rank'; did you mean 'lora.r'?" in out.stderr
    spec = {
        "name": "s",
        "train": "sft.yaml",
        "space": {"lora.r": {"type": "int", "low": 2, "high": 4}},
        "executor": "slurm",
    }
    out = cli("sweep", write(tmp_path, spec, "sweep.yaml"))
    assert out.exit_code == 2 and "executor: Input should be 'local' or 'ray'" in out.stderr
