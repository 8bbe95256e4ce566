"""Data-parallel LoRA SFT on Ray Train's TorchTrainer: 2 CPU workers on gloo, a real local Ray.

The workers train the tiny model on halves of the rows; rank 0 alone stores the adapter and
registers the version through the store. Checked from the store, not from Ray: one version,
both ranks recorded (two worker processes, world size 2), half the optimizer steps a single
process takes for the same epoch, and an adapter that moved away from the base.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import llmloop as ll
from llmloop.context import local_context
from llmloop.errors import InvalidInput, NotFound, Unavailable
from llmloop.services.train.config import parse_config

EPOCH = {"max_steps": None, "num_epochs": 1}  # 48 rows, batch 8: 6 steps on one process, 3 on two


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """One Ray instance for the module (starting one costs seconds); workers get the store per call."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # workers import llmloop
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()


def _adapter_moved(run_id: str) -> bool:
    """LoRA's B matrices start at zero (the adapter is the base); any non-zero B means it trained."""
    from safetensors.torch import load

    ctx = local_context()
    run = ll.get_client().runs.get_run(run_id)
    weights = next(a for a in run.artifacts if a.path == "adapter/adapter_model.safetensors")
    tensors = load(ctx.artifacts.read_bytes(weights.sha256))
    b = [t for name, t in tensors.items() if "lora_B" in name]
    return bool(b) and all(bool(t.abs().sum() > 0) for t in b)


@pytest.mark.slow
def test_llmloop_train_runs_two_workers_and_rank_0_registers(
    local_ray: Any, cli: Any, tiny_config: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    path = tmp_path / "sft.yaml"
    path.write_text(yaml.safe_dump(tiny_config(training=EPOCH, distributed={"workers": 2})))
    out = cli("train", str(path), "--json")
    assert out.exit_code == 0, out.stderr
    result = json.loads(out.stdout)

    assert result["status"] == "finished"
    assert result["steps"] == result["total_steps"] == 3  # each rank took half of the 6 batches
    assert result["model_version"] == "tiny@1"
    assert [v.version for v in ll.models.versions("tiny")] == [1]
    run = ll.get_client().runs.get_run(result["run_id"])
    assert run.status == "finished"
    assert run.tags["distributed.world_size"] == "2" and run.metrics["world_size"] == 2
    ranks = dict(part.split(":", 1) for part in run.tags["distributed.ranks"].split(","))
    assert sorted(ranks) == ["0", "1"]
    pids = {where.split("@")[0] for where in ranks.values()}
    assert len(pids) == 2 and str(os.getpid()) not in pids  # two worker processes, not this one
    assert run.params["distributed.workers"] == "2" and run.params["plan.total_steps"] == "3"
    assert {"train_loss", "eval_loss", "train_s"} <= set(run.metrics)
    assert _adapter_moved(result["run_id"])


@pytest.mark.slow
def test_dpo_runs_data_parallel_with_the_disabled_adapter_as_each_ranks_reference(
    local_ray: Any, tiny_config: Callable[..., dict[str, Any]], data_dir: Path
) -> None:
    """DPO through the same driver: 24 preference pairs, batch 4 -> 6 steps alone, 3 on two ranks."""
    cfg = tiny_config(
        method="dpo",
        data={"train": str(data_dir / "preference.jsonl"), "eval": None},
        training={**EPOCH, "batch_size": 4},
        distributed={"workers": 2},
    )
    result = ll.train(cfg, overrides={"dpo.beta": 0.5})
    assert result.status == "finished" and result.steps == result.total_steps == 3
    run = ll.get_client().runs.get_run(result.run_id)
    assert run.tags["distributed.world_size"] == "2"
    ctx = local_context()
    from llmloop.services.tracking import service as tracking

    chosen = tracking.metric_history(ctx, run_id=result.run_id, key="rewards/chosen")
    assert chosen and chosen[0].value == 0.0  # step 1: the policy is its reference (LoRA B is zero)
    assert _adapter_moved(result.run_id)


@pytest.mark.slow
def test_a_pipeline_train_step_runs_data_parallel(local_ray: Any, tiny_model: Path, data_dir: Path) -> None:
    training = {
        "name": "tiny-dp",
        "model": {"base": str(tiny_model)},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"max_steps": 2, "batch_size": 8, "max_seq_length": 64, "bf16": False},
        "distributed": {"workers": 2},
    }
    defn = {
        "name": "dp",
        "base_dir": str(data_dir),
        "steps": [
            {"name": "data", "kind": "ingest", "config": {"name": "qa", "path": "train.jsonl"}},
            {"name": "sft", "kind": "train", "inputs": {"data": "steps.data.dataset"}, "config": training},
        ],
    }
    run = ll.pipelines.run(defn, executor="ray")  # the step is a Ray task that starts the workers
    assert run.status == "finished", [(s.name, s.error) for s in run.steps]
    assert run.step("sft").outputs["model"] == "model:tiny-dp@1"
    assert ll.get_client().pipelines.get_run(run.id).executor == "ray"
    trained = ll.get_client().runs.get_run(run.step("sft").outputs["run"])
    assert trained.tags["distributed.world_size"] == "2"
    assert _adapter_moved(trained.id)


def test_a_data_parallel_step_task_asks_no_cpu_of_its_own() -> None:
    from llmloop.services.pipelines.definition import parse_definition

    step = {"name": "sft", "kind": "train", "inputs": {"data": "dataset:qa@1"}}
    defn = parse_definition(
        {
            "name": "dp",
            "steps": [
                {**step, "config": {"distributed": {"workers": 2}}},
                {
                    **step,
                    "name": "pinned",
                    "config": {"distributed": {"workers": 2}},
                    "resources": {"cpus": 2},
                },
                {**step, "name": "plain"},
            ],
        }
    )
    assert [s.resources.cpus for s in defn.steps] == [0.0, 2.0, 1.0]


def test_the_plan_counts_steps_per_worker(tiny_config: Callable[..., dict[str, Any]]) -> None:
    from llmloop.sdk.train import plan as train_plan

    one = train_plan(tiny_config(training=EPOCH))
    two = train_plan(tiny_config(training=EPOCH, distributed={"workers": 2}))
    assert (one.steps_per_epoch, two.steps_per_epoch) == (6, 3)
    assert two.effective_batch == 2 * one.effective_batch
    assert any("2 workers" in note for note in two.notes)


def test_zero_workers_is_refused_naming_the_key(tiny_config: Callable[..., dict[str, Any]]) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_config(tiny_config(distributed={"workers": 0}))
    assert "distributed.workers" in err.value.message


def test_nccl_without_gpus_is_refused(tiny_config: Callable[..., dict[str, Any]]) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_config(tiny_config(distributed={"workers": 2, "backend": "nccl"}))
    assert "distributed.backend" in err.value.message


def test_without_ray_train_nothing_is_recorded(
    tiny_config: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray.train.torch", None)  # import fails as if not installed
    with pytest.raises(Unavailable) as err:
        ll.train(tiny_config(distributed={"workers": 2}))
    assert "distributed.workers" in err.value.message and "llmloop[ray]" in err.value.message
    try:  # refused before the run (and so before the project) was created
        runs = ll.get_client().runs.list_runs(project="default").items
    except NotFound:
        runs = []
    assert runs == []
