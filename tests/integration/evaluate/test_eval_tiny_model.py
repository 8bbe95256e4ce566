"""A tiny config-built Llama (2 layers, hidden 64): perplexity, and a whole suite generated with ``generate``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from eval_fixtures import write_suite

import llmloop as ll
from llmloop.services.evaluate import results, service
from llmloop.services.evaluate.generation import Completion
from llmloop.services.evaluate.suite import load_suite

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

WORDS = [
    "what",
    "is",
    "item",
    "answer",
    "q",
    ":",
    "a",
    "briefly",
    ".",
    "?",
    "i",
    "do",
    "not",
    "know",
    "the",
    "cat",
    "sat",
    "on",
    "mat",
] + [str(i) for i in range(40)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {
        "<pad>": 0,
        "<unk>": 1,
        "<s>": 2,
        "</s>": 3,
        **{w: i + 4 for i, w in enumerate(dict.fromkeys(WORDS))},
    }
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(vocab), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128,
        bos_token_id=2, eos_token_id=3, pad_token_id=0,
    )  # fmt: skip
    model = transformers.LlamaForCausalLM(config).eval()
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model, tokenizer, folder


def test_perplexity_matches_the_models_own_loss(tiny: tuple[Any, Any, Path]) -> None:
    model, tokenizer, folder = tiny
    text = "the cat sat on the mat"
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        loss = float(model(input_ids=ids, labels=ids).loss)
    r = ll.metrics.compute("perplexity", predictions=[text], model=model, tokenizer=tokenizer)
    assert r.score == pytest.approx(math.exp(loss), rel=1e-4)
    assert r.higher_is_better is False
    # pooled over texts (by tokens), padding ignored, loadable from a folder
    texts = [text, "what is item 3 ?", "a"]
    pooled = ll.metrics.compute("perplexity", predictions=texts, model=str(folder), batch_size=2)
    assert pooled.per_example[0] == pytest.approx(math.exp(loss), rel=1e-4)
    assert pooled.per_example[2] is None  # one token predicts nothing
    assert pooled.details["tokens"] == 5 + 4


def test_a_suite_generated_by_a_tiny_transformers_model(
    ctx: Any, tmp_path: Path, tiny: tuple[Any, Any, Path]
) -> None:
    model, tokenizer, _ = tiny

    def generate(batch: list[list[dict[str, str]]], **params: Any) -> list[Completion]:
        prompts = [" ".join(m["content"] for m in messages) for messages in batch]
        tokenizer.padding_side = "left"
        enc = tokenizer(prompts, return_tensors="pt", padding=True)
        with torch.no_grad():
            out = model.generate(
                **enc, max_new_tokens=params["max_new_tokens"], do_sample=False, pad_token_id=0
            )
        new = out[:, enc["input_ids"].shape[1] :]
        return [
            Completion(
                tokenizer.decode(row, skip_special_tokens=True),
                prompt_tokens=int(enc["attention_mask"][i].sum()),
                completion_tokens=int((row != 0).sum()),
            )
            for i, row in enumerate(new)
        ]

    suite_path = write_suite(tmp_path / "s", extra="")
    suite_path.write_text(
        suite_path.read_text()
        .replace("max_new_tokens: 16", "max_new_tokens: 4")
        .replace("  - latency\n", "  - latency\n  - output_tokens\n")
    )
    ev = service.run_suite(ctx, suite=load_suite(suite_path), model=generate, limit=12)
    assert ev.status == "completed" and ev.n_examples == 12 and ev.n_errors == 0
    assert ev.metrics["output_tokens"].score == pytest.approx(4.0)
    assert 0.0 <= (ev.metrics["rougeL"].score or 0.0) <= 1.0
    ex = results.list_examples(ctx, evaluation_id=ev.id, limit=1).items[0]
    assert ex.prompt_tokens and ex.prompt_tokens > 3 and ex.completion_tokens == 4 and ex.output is not None
