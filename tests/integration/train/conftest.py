"""Fixtures for training tests: a tiny Llama built locally, small datasets, and one thread per process.

The tiny model (2 layers, hidden 64, a 300-token byte-level BPE tokenizer trained on the test
rows, a ChatML chat template like SmolLM2's) is built once per session; nothing is downloaded.
Torch uses one thread: on a busy 2-core machine a second OpenMP thread makes each step ~30x slower.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
WORDS = ["red", "green", "blue", "sun", "rain", "snow", "beach", "hill", "city", "lake", "warm", "cold"]


def qa_rows(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Short chats: 'Pick one: X or Y?' -> X. Learnable in a few steps by a tiny model."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = rng.sample(WORDS, 2)
        rows.append(
            {
                "messages": [
                    {"role": "system", "content": "Answer with one word."},
                    {"role": "user", "content": f"Pick one: {a} or {b}?"},
                    {"role": "assistant", "content": a},
                ]
            }
        )
    return rows


def preference_rows(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.sample(WORDS, 2)
        out.append({"prompt": f"Pick one: {a} or {b}?", "chosen": a, "rejected": b})
    return out


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def build_tiny_model(folder: Path, seed: int = 0, hidden: int = 64) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = [json.dumps(r) for r in qa_rows(200) + preference_rows(50)] + ["system user assistant Answer"]
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def other_tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model of another width: adapters trained on one must not load on the other."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama-32"), hidden=32)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    write_jsonl(folder / "train.jsonl", qa_rows(48))
    write_jsonl(folder / "eval.jsonl", qa_rows(8, seed=7))
    write_jsonl(folder / "preference.jsonl", preference_rows(24))
    write_jsonl(folder / "prompts.jsonl", [{"prompt": r["prompt"]} for r in preference_rows(12, seed=3)])
    return folder


@pytest.fixture
def tiny_config(tiny_model: Path, data_dir: Path) -> Callable[..., dict[str, Any]]:
    """A training config (as a mapping) sized for milliseconds per step; keyword sections merge in."""

    def make(**sections: Any) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "name": "tiny",
            "model": {"base": str(tiny_model)},
            "data": {"train": str(data_dir / "train.jsonl"), "eval": str(data_dir / "eval.jsonl")},
            "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
            "training": {
                "max_steps": 4,
                "batch_size": 8,
                "learning_rate": 1e-2,
                "log_every": 1,
                "max_seq_length": 64,
                "bf16": False,
            },
        }
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(cfg.get(key), dict):
                cfg[key] = {**cfg[key], **value}
            else:
                cfg[key] = value
        return cfg

    return make
