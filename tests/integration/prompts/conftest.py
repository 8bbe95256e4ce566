"""A tiny real chat model for chain and playground tests: a 2-layer Llama with random weights.

The tokenizer is a byte-level BPE (GPT-2 style) trained here on a few sentences with the
``tokenizers`` library, so nothing is downloaded; the model answers gibberish, quickly and
deterministically (greedy decoding), which is all the chain machinery needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.model_fixtures import (  # noqa: F401  (a registered tiny model for /run)
    smollm2_digest,
    smollm2_gguf,
    smollm2_hf_dir,
    tiny_llama_dir,
)

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "You are a travel assistant. Answer in one word.",
    "Paris Rome Lisbon Vienna beaches mountains museums",
    '{"city": "Rome", "days": 3}',
    "Where should I go in May? Somewhere warm with good food.",
]


@pytest.fixture(scope="session")
def tiny_chat() -> Callable[..., str]:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(CORPUS * 5, trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>", bos_token="<|im_start|>"
    )
    tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    model = LlamaForCausalLM(config).eval()

    def generate(messages: list[dict[str, str]], **params: Any) -> str:
        enc = tok.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.inference_mode():
            out = model.generate(
                **enc,
                max_new_tokens=int(params.get("max_tokens") or 8),
                do_sample=False,
                pad_token_id=tok.pad_token_id,
            )
        return str(tok.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True))

    return generate
