"""SFT on the tiny model: loss logged, every LoRA weight moved, the base frozen, the adapter stored, lineage."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import TrainerCallback

import llmloop as ll
from llmloop.context import local_context
from llmloop.sdk.train import plan as train_plan
from llmloop.services.tracking import service as tracking
from llmloop.store.lineage import edges_of


class Snapshot(TrainerCallback):
    """Copies of every parameter when training starts and ends (the test's view of what moved)."""

    def __init__(self) -> None:
        self.before: dict[str, torch.Tensor] = {}
        self.after: dict[str, torch.Tensor] = {}
        self.trainable: set[str] = set()

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        self.before = {n: p.detach().clone() for n, p in model.named_parameters()}
        self.trainable = {n for n, p in model.named_parameters() if p.requires_grad}

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        self.after = {n: p.detach().clone() for n, p in model.named_parameters()}


def test_lora_sft_trains_tracks_and_stores_the_adapter(tiny_config: Callable[..., dict[str, Any]]) -> None:
    snap = Snapshot()
    result = ll.train(tiny_config(training={"save_steps": 2}), callbacks=[snap])

    assert result.status == "finished" and result.steps == result.total_steps == 4
    assert result.train_loss is not None and math.isfinite(result.train_loss)
    assert result.eval_loss is not None and math.isfinite(result.eval_loss)

    # every LoRA parameter changed, every base parameter did not
    assert snap.trainable and all("lora_" in n for n in snap.trainable)
    for name in snap.before:
        moved = not torch.equal(snap.before[name], snap.after[name])
        assert moved == (name in snap.trainable), name

    ctx = local_context()
    run = tracking.get_run(ctx, run_id=result.run_id)
    assert run.status == "finished" and run.kind == "train" and run.params["training.learning_rate"] == "0.01"
    losses = tracking.metric_history(ctx, run_id=run.id, key="loss")
    assert [p.step for p in losses] == [1, 2, 3, 4] and all(math.isfinite(p.value) for p in losses)
    for key in ("learning_rate", "grad_norm", "tokens_per_s", "rss_mb", "eval_loss", "peak_rss_mb"):
        assert key in run.metrics and math.isfinite(run.metrics[key]), key
    assert run.metrics["rss_mb"] > 50

    # the adapter and the checkpoints are artifacts; the stored adapter is the file training wrote
    paths = {a.path: a for a in run.artifacts}
    adapter = paths["adapter/adapter_model.safetensors"]
    assert (
        ctx.artifacts.read_bytes(adapter.sha256)
        == (Path(result.output_dir or "") / "adapter_model.safetensors").read_bytes()
    )
    assert "adapter/adapter_config.json" in paths and "adapter/training_args.bin" not in paths
    assert {
        "checkpoints/checkpoint-2/adapter_model.safetensors",
        "checkpoints/checkpoint-4/adapter_model.safetensors",
    } <= set(paths)
    assert {"config.yaml", "inputs/data_train.jsonl", "inputs/data_eval.jsonl"} <= set(paths)
    assert run.tags["last_checkpoint_step"] == "4" and run.tags["method"] == "sft"

    # lineage: data and base model into the run, the registered model version out of it
    with ctx.db.session() as s:
        edges = edges_of(s, "run", run.id)
    relations = {(e.relation, e.src_type, e.dst_type) for e in edges}
    assert {
        ("train_data", "artifact", "run"),
        ("eval_data", "artifact", "run"),
        ("base_model", "model_dir", "run"),
    } <= relations
    produced = [e for e in edges if e.relation == "produced"]
    version = ll.models.get(result.model_version or "-", project=run.project)
    assert {(e.dst_type, e.dst_id) for e in produced} == {
        ("artifact", adapter.sha256),
        ("model_version", version.id),
    }
    assert version.run_id == run.id and version.adapter is not None
    assert version.adapter.files["adapter_model.safetensors"] == adapter.sha256


def test_answer_only_loss_masks_the_prompt(
    tiny_config: Callable[..., dict[str, Any]], tiny_model: Path
) -> None:
    """TRL gets prompt/completion pairs, so labels cover only the assistant's answer (and its end token)."""
    from transformers import AutoTokenizer

    seen: dict[str, Any] = {}

    class Labels(TrainerCallback):
        def on_train_begin(
            self, args: Any, state: Any, control: Any, train_dataloader: Any = None, **kw: Any
        ) -> None:
            batch = next(iter(train_dataloader))
            seen["labels"], seen["ids"] = batch["labels"][0], batch["input_ids"][0]

    ll.train(tiny_config(training={"max_steps": 1}), callbacks=[Labels()])
    tok = AutoTokenizer.from_pretrained(tiny_model)
    labelled = seen["ids"][seen["labels"] != -100]
    text = tok.decode(labelled)
    assert text.endswith("<|im_end|>\n") or text.endswith("<|im_end|>")
    assert "Pick one" not in text and "system" not in text and len(labelled) < len(seen["ids"]) / 3


def test_full_fine_tune_stores_the_whole_model(tiny_config: Callable[..., dict[str, Any]]) -> None:
    snap = Snapshot()
    result = ll.train(
        tiny_config(lora={"enabled": False}, data={"eval": None}, training={"max_steps": 2}), callbacks=[snap]
    )
    assert snap.trainable == set(snap.before)  # every weight trains
    assert all(not torch.equal(snap.before[n], snap.after[n]) for n in snap.trainable if "norm" not in n)
    assert "model/model.safetensors" in result.artifacts and "model/tokenizer.json" in result.artifacts
    assert result.eval_loss is None


def test_plan_counts_match_the_real_model(
    tiny_config: Callable[..., dict[str, Any]], tiny_model: Path
) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    plan = train_plan(
        tiny_config(
            training={"max_steps": None, "num_epochs": 2, "batch_size": 4, "gradient_accumulation_steps": 3}
        )
    )
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert plan.params_total == sum(p.numel() for p in model.parameters())
    peft = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM")
    )
    assert plan.params_trainable == sum(p.numel() for p in peft.parameters() if p.requires_grad)
    assert plan.effective_batch == 12 and plan.rows_train == 48 and plan.rows_eval == 8
    assert plan.steps_per_epoch == 4 and plan.total_steps == 8
    assert 10 < plan.tokens_per_row < 64 and abs(plan.tokens_per_step - 12 * plan.tokens_per_row) < 12
    assert plan.fits and plan.memory.total_bytes > plan.memory.runtime_bytes and plan.step_seconds > 0


def test_top_layers_adapt_only_the_last_blocks(
    tiny_config: Callable[..., dict[str, Any]], tiny_model: Path
) -> None:
    """lora.top_layers: 1 on the 2-block model puts adapters on block 1 only, the plan counts just
    those, and the stored adapter says so (serving and stacking read layers_to_transform)."""
    import json

    config = tiny_config(lora={"top_layers": 1}, training={"max_steps": 2})
    plan = train_plan(config)
    snap = Snapshot()
    result = ll.train(config, callbacks=[snap])

    assert snap.trainable and all(".layers.1." in n for n in snap.trainable), sorted(snap.trainable)
    assert plan.params_trainable == sum(snap.before[n].numel() for n in snap.trainable)
    assert all(torch.equal(snap.before[n], snap.after[n]) for n in snap.before if ".layers.0." in n)
    assert all(not torch.equal(snap.before[n], snap.after[n]) for n in snap.trainable if "lora_B" in n)
    stored = json.loads((Path(result.output_dir or "") / "adapter_config.json").read_text())
    assert stored["layers_to_transform"] == [1]
    full = train_plan(tiny_config())
    assert plan.params_trainable * 2 == full.params_trainable and plan.step_seconds < full.step_seconds


def test_more_top_layers_than_the_model_has_is_refused(tiny_config: Callable[..., dict[str, Any]]) -> None:
    with pytest.raises(
        ll.InvalidInput, match=r"lora\.top_layers is 3 but the model has 2 transformer blocks"
    ):
        ll.train(tiny_config(lora={"top_layers": 3}))
    assert ll.search_runs() == []


@pytest.mark.parametrize("limit_gb", [0.01])
def test_training_that_cannot_fit_is_refused_before_it_starts(
    tiny_config: Callable[..., dict[str, Any]], limit_gb: float
) -> None:
    with pytest.raises(
        ll.InvalidInput, match=r"needs ≈.* GiB but 0\.0 GiB is available: lower training\.batch_size"
    ):
        ll.train(tiny_config(compute={"memory_limit_gb": limit_gb}))
    assert ll.search_runs() == []  # no run was started


def test_early_stopping_ends_a_training_that_stopped_improving(
    tiny_config: Callable[..., dict[str, Any]],
) -> None:
    cfg = tiny_config(
        training={
            "max_steps": 10,
            "learning_rate": 1e-9,  # eval loss cannot improve by the threshold
            "eval_steps": 1,
            "early_stopping_patience": 2,
            "early_stopping_threshold": 0.01,
        }
    )
    result = ll.train(cfg)
    assert result.status == "stopped_early" and result.steps == 3 and result.total_steps == 10
    run = tracking.get_run(local_context(), run_id=result.run_id)
    assert run.status == "finished" and run.tags["status_detail"] == "stopped_early"


def test_progress_off_a_terminal_prints_lines_with_eta(
    tiny_config: Callable[..., dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A CI log or pipe sees a line per tenth of the steps, not a bar that draws only at the end."""
    ll.train(tiny_config(), progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("training tiny:")]
    assert [line.split(",")[0] for line in lines] == [
        "training tiny: 1/4 (25%)",
        "training tiny: 2/4 (50%)",
        "training tiny: 3/4 (75%)",
        "training tiny: 4/4 (100%)",
    ]
    assert lines[-1].endswith("ETA 0s")
