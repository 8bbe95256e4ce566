"""DPO (reference = adapter disabled), distillation from a teacher callable, and a NaN loss stopping cleanly."""

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
from llmloop.services.tracking import service as tracking
from llmloop.services.train.service import TrainingDiverged
from llmloop.store.lineage import edges_of, upstream


def test_dpo_on_preferences_uses_the_disabled_adapter_as_reference(
    tiny_config: Callable[..., dict[str, Any]], data_dir: Path
) -> None:
    cfg = tiny_config(method="dpo", data={"train": str(data_dir / "preference.jsonl"), "eval": None})
    result = ll.train(cfg, overrides={"training.max_steps": 3, "training.batch_size": 4, "dpo.beta": 0.5})
    assert result.status == "finished" and result.steps == 3
    ctx = local_context()
    margins = tracking.metric_history(ctx, run_id=result.run_id, key="rewards/margins")
    chosen = tracking.metric_history(ctx, run_id=result.run_id, key="rewards/chosen")
    # At step 1 the policy *is* the reference (LoRA B starts at zero, reference = adapter off): rewards are 0.
    assert chosen[0].step == 1 and chosen[0].value == 0.0 and margins[0].value == 0.0
    assert any(p.value != 0.0 for p in chosen[1:])  # then the adapter moves the policy away from it
    assert all(math.isfinite(p.value) for p in tracking.metric_history(ctx, run_id=result.run_id, key="loss"))
    assert "adapter/adapter_model.safetensors" in result.artifacts


def test_dpo_refuses_chat_rows(tiny_config: Callable[..., dict[str, Any]]) -> None:
    with pytest.raises(ll.InvalidInput, match="holds chat rows; method 'dpo' needs preference rows") as info:
        ll.train(tiny_config(method="dpo"))
    assert info.value.details["key"] == "data.train"


def test_distillation_turns_teacher_answers_into_a_dataset_then_trains(
    tiny_config: Callable[..., dict[str, Any]], data_dir: Path
) -> None:
    calls: list[int] = []

    def teacher(prompts: list[list[dict[str, str]]]) -> list[str]:
        calls.append(len(prompts))
        return [
            p[-1]["content"].split(": ", 1)[1].split(" or ")[0] for p in prompts
        ]  # "Pick one: a or b?" -> a

    cfg = tiny_config(
        method="distill",
        data={"train": None, "eval": None, "system_prompt": "Answer with one word."},
        distill={
            "teacher": "first-word-teacher",
            "prompts": str(data_dir / "prompts.jsonl"),
            "batch_size": 5,
        },
        training={"max_steps": 2},
    )
    result = ll.train(cfg, teacher=teacher)
    assert calls == [5, 5, 2]  # 12 prompts in batches of distill.batch_size
    assert result.status == "finished" and result.dataset_version is not None

    ctx = local_context()
    run = tracking.get_run(ctx, run_id=result.run_id)
    # the answers became a version of a registered chat dataset, read back through the SDK
    assert result.dataset_version == run.tags["distill.dataset"] == "tiny-distilled@1"
    rows = list(ll.datasets.get(result.dataset_version).iter_rows())
    assert len(rows) == 12 and run.metrics["teacher_answers"] == 12
    first = rows[0]["messages"]
    assert first[0]["role"] == "system" and first[0]["content"] == "Answer with one word."
    assert first[-1]["role"] == "assistant"
    assert first[-1]["content"] == first[-2]["content"].split(": ", 1)[1].split(" or ")[0]
    with ctx.db.session() as s:
        version_id = next(
            e.dst_id
            for e in edges_of(s, "run", run.id)
            if e.relation == "produced" and e.dst_type == "dataset_version"
        )
        into_dataset = {
            (e.relation, e.src_type, e.src_id)
            for e in upstream(s, "dataset_version", version_id, max_depth=1)
        }
        run_edges = {(e.relation, e.src_type) for e in edges_of(s, "run", run.id)}
    prompts_sha = next(a.sha256 for a in run.artifacts if a.path == "inputs/distill_prompts.jsonl")
    assert ("teacher_of", "callable", "first-word-teacher") in into_dataset
    assert ("prompts_of", "artifact", prompts_sha) in into_dataset
    assert ("produced", "run", run.id) in into_dataset
    assert {("teacher", "callable"), ("prompts", "artifact"), ("base_model", "model_dir")} <= run_edges


def test_a_teacher_that_fails_fails_the_run_with_a_clear_message(
    tiny_config: Callable[..., dict[str, Any]], data_dir: Path
) -> None:
    def broken(prompts: list[list[dict[str, str]]]) -> list[str]:
        raise TimeoutError("upstream timed out")

    cfg = tiny_config(
        method="distill",
        data={"train": None, "eval": None},
        distill={"teacher": "t", "prompts": str(data_dir / "prompts.jsonl")},
    )
    with pytest.raises(
        ll.Unavailable, match=r"the teacher failed on prompts 1-8: TimeoutError: upstream timed out"
    ):
        ll.train(cfg, teacher=broken)
    (run,) = ll.search_runs()
    assert run.status == "failed" and "TimeoutError" in run.tags["failure"]


class Poison(TrainerCallback):
    """Writes NaN into one trainable weight after ``step`` (a real divergence, not a mocked loss)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        if state.global_step == self.step:
            next(p for p in model.parameters() if p.requires_grad).data.fill_(float("nan"))


def test_nan_loss_stops_keeps_the_last_good_checkpoint_and_registers_nothing(
    tiny_config: Callable[..., dict[str, Any]],
) -> None:
    cfg = tiny_config(training={"max_steps": 8, "save_steps": 2, "save_total_limit": 5})
    with pytest.raises(TrainingDiverged) as info:
        ll.train(cfg, callbacks=[Poison(step=3)])
    assert "loss became nan at step 4" in info.value.message and "checkpoint-2" in info.value.message
    ctx = local_context()
    run = tracking.get_run(ctx, run_id=info.value.details["run_id"])
    assert run.status == "failed" and run.tags["nan_step"] == "4"
    folder = Path(run.tags["checkpoint_dir"])
    assert sorted(p.name for p in folder.glob("checkpoint-*")) == [
        "checkpoint-2"
    ]  # none saved at or after the NaN
    assert run.tags["last_good_checkpoint"] == str(folder / "checkpoint-2")
    assert not any(a.path.startswith("adapter/") for a in run.artifacts)
    with ctx.db.session() as s:
        assert not [e for e in edges_of(s, "run", run.id) if e.relation == "produced"]
    losses = [p.value for p in tracking.metric_history(ctx, run_id=run.id, key="loss")]
    assert all(math.isfinite(v) for v in losses[:3]) and len(losses) <= 4


def test_a_local_model_folder_can_teach_without_the_engines(
    tiny_config: Callable[..., dict[str, Any]], data_dir: Path, tiny_model: Path
) -> None:
    """Until the engine interface is wired in, a local HF folder answers with batched generate.

    The random tiny model answers every prompt with newlines only: the run must say so, not train on blanks.
    """
    cfg = tiny_config(
        method="distill",
        data={"train": None, "eval": None},
        distill={"teacher": str(tiny_model), "prompts": str(data_dir / "prompts.jsonl"), "max_new_tokens": 3},
        training={"max_steps": 1},
    )
    with pytest.raises(ll.InvalidInput, match="the teacher gave no non-empty answer; nothing to train on"):
        ll.train(cfg)
    (run,) = ll.search_runs()
    assert run.status == "failed" and run.metrics["teacher_empty_answers"] == 12
    with local_context().db.session() as s:
        teacher_edges = [e for e in edges_of(s, "run", run.id) if e.relation == "teacher"]
    assert [e.src_type for e in teacher_edges] == ["model_dir"]


def test_dpo_continues_from_the_sft_adapter(
    tiny_config: Callable[..., dict[str, Any]], data_dir: Path, tiny_model: Path, tmp_path: Path
) -> None:
    """SFT adapter merged into the base; the new DPO adapter trains on top; lineage links the two runs."""
    sft = ll.train(tiny_config(data={"eval": None}, training={"max_steps": 2}))
    cfg = tiny_config(
        method="dpo",
        model={"adapter": sft.output_dir},
        data={"train": str(data_dir / "preference.jsonl"), "eval": None},
        training={"max_steps": 2, "batch_size": 4},
    )
    dpo = ll.train(cfg)
    assert dpo.status == "finished"
    ctx = local_context()
    adapter_sha = next(
        a.sha256
        for a in tracking.get_run(ctx, run_id=sft.run_id).artifacts
        if a.path == "adapter/adapter_model.safetensors"
    )
    with ctx.db.session() as s:
        chain = {
            (e.src_type, e.src_id, e.relation, e.dst_id) for e in upstream(s, "run", dpo.run_id, max_depth=2)
        }
    assert ("artifact", adapter_sha, "base_model", dpo.run_id) in chain  # the SFT adapter is DPO's base...
    assert ("run", sft.run_id, "produced", adapter_sha) in chain  # ...and the SFT run produced it
    chosen = tracking.metric_history(ctx, run_id=dpo.run_id, key="rewards/chosen")
    assert chosen[0].value == 0.0  # reference = merged SFT model = policy at step 1

    # registering it stacks both adapters into one, exactly: base + stacked == (base + SFT merged) + DPO
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from llmloop.services.train.adapters import stack_adapters

    stacked = stack_adapters(Path(sft.output_dir or ""), Path(dpo.output_dir or ""), tmp_path / "stacked")
    x = torch.randint(3, 250, (2, 10))
    one = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), str(stacked)).eval()
    merged = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model), sft.output_dir
    ).merge_and_unload()
    two = PeftModel.from_pretrained(merged, dpo.output_dir).eval()
    with torch.no_grad():
        assert torch.allclose(one(x).logits, two(x).logits, atol=1e-5)


def test_an_adapter_for_another_base_is_refused(
    tiny_config: Callable[..., dict[str, Any]], other_tiny_model: Path, data_dir: Path
) -> None:
    sft = ll.train(tiny_config(data={"eval": None}, training={"max_steps": 1}))
    cfg = tiny_config(
        model={"base": str(other_tiny_model), "adapter": sft.output_dir}, training={"max_steps": 1}
    )
    with pytest.raises(ll.InvalidInput, match="does not fit its base model"):
        ll.train(cfg)
    with pytest.raises(ll.InvalidInput, match=r"holds only a LoRA adapter; put it in model\.adapter"):
        ll.train(tiny_config(model={"base": sft.output_dir}))
