"""The answer-only SFT loss equals the model's own loss, with the same gradients, on the tiny model."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from llmloop.services.train.answer_loss import answer_only_loss, applies


def _batch() -> dict[str, torch.Tensor]:
    """Two right-padded rows whose labels cover only a short answer, as TRL's collator makes them."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, 200, (2, 12), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    labels = torch.full_like(ids, -100)
    labels[0, 8:12] = ids[0, 8:12]
    labels[1, 6:9] = ids[1, 6:9]
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _lora(tiny_model: Path) -> torch.nn.Module:
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    peft = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    )
    peft.train()
    return peft


def _grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    out = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    return out


def test_loss_and_gradients_match_the_full_head(tiny_model: Path) -> None:
    model = _lora(tiny_model)
    batch = _batch()
    reference = model(**batch).loss  # transformers' own shifted mean NLL over every logit
    reference.backward()
    expected = _grads(model)

    loss, metrics = answer_only_loss(model, batch)
    loss.backward()
    got = _grads(model)

    assert torch.allclose(loss, reference, atol=1e-5), (loss, reference)
    assert expected.keys() == got.keys() and expected
    for name in expected:
        assert torch.allclose(got[name], expected[name], atol=1e-5), name
    assert 0.0 <= metrics["mean_token_accuracy"] <= 1.0 and metrics["entropy"] > 0


def test_num_items_in_batch_divides_the_sum(tiny_model: Path) -> None:
    """Gradient accumulation passes the tokens of all micro-batches: the loss is the sum over them."""
    model = _lora(tiny_model)
    batch = _batch()
    mean, _ = answer_only_loss(model, batch)
    answers = int((batch["labels"][:, 1:] != -100).sum())
    summed, _ = answer_only_loss(model, batch, num_items_in_batch=torch.tensor(4 * answers))
    assert torch.allclose(summed * 4, mean, atol=1e-6)


def test_scaled_heads_keep_trl_path(tiny_model: Path) -> None:
    model = _lora(tiny_model)
    trainer = SimpleNamespace(
        compute_loss_func=None,
        label_smoother=None,
        aux_loss_enabled=False,
        args=SimpleNamespace(loss_type="nll"),
    )
    batch = _batch()
    assert applies(trainer, model, batch)
    assert not applies(trainer, model, {k: v for k, v in batch.items() if k != "labels"})
    assert not applies(SimpleNamespace(**{**vars(trainer), "label_smoother": object()}), model, batch)
    model.get_base_model().config.final_logit_softcapping = 30.0
    assert not applies(trainer, model, batch)
