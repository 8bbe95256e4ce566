"""Semantic few-shot selection with the real all-MiniLM-L6-v2 (packaged offline), and its on-disk index cache."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from llmloop.errors import Unavailable
from llmloop.services.prompts import vectors
from llmloop.services.prompts.embeddings import MiniLMEmbedder, default_embedder
from llmloop.services.prompts.render import CompiledPrompt
from llmloop.services.prompts.schemas import PromptCreate

EXAMPLES = [
    {"input": "Which beach resort has the warmest sea in October?", "output": "Try the Canary Islands."},
    {"input": "Where can I ski in the Alps with small children?", "output": "Look at Serfaus in Tyrol."},
    {"input": "What is a good city for museums and art galleries?", "output": "Florence, for the Uffizi."},
    {"input": "Recommend a hiking trail with mountain huts.", "output": "The Tour du Mont Blanc."},
    {"input": "Where do I find cheap street food in Asia?", "output": "Bangkok's Yaowarat Road."},
    {"input": "Which island is best for snorkelling with turtles?", "output": "Gili Islands, Indonesia."},
]


class CountingEmbedder:
    """The real MiniLM, counting how many texts it embeds (to prove the cache is used)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.texts = 0

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.texts += len(texts)
        return self.inner.encode(texts)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def minilm() -> Any:
    return default_embedder()


def semantic_prompt(embedder: Any, **few_shot: Any) -> CompiledPrompt:
    spec = PromptCreate.model_validate(
        {
            "name": "advisor",
            "messages": [
                {"role": "system", "content": "You are a travel advisor."},
                {"role": "user", "content": "{{ question }}"},
            ],
            "variables": {"question": "string"},
            "few_shot": {
                "strategy": "semantic",
                "examples": EXAMPLES,
                "query_variable": "question",
                "k": 2,
                "messages": [
                    {"role": "user", "content": "{{ input }}"},
                    {"role": "assistant", "content": "{{ output }}"},
                ],
                **few_shot,
            },
        }
    )
    return CompiledPrompt(
        ref="advisor@1",
        messages=spec.messages,
        template=None,
        variables=spec.variables,
        params=spec.params,
        few_shot=spec.few_shot,
        embedder=lambda: embedder,
    )


def test_minilm_matches_sentence_transformers_geometry(minilm: Any) -> None:
    vecs = minilm.encode(["a quiet beach holiday", "a calm seaside vacation", "tax law for companies"])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    sims = vecs @ vecs.T
    assert sims[0, 1] > 0.6 > sims[0, 2]
    single = minilm.encode(["a calm seaside vacation"])[0]  # one text, one thread: same vector
    assert np.allclose(single, vecs[1], atol=1e-5)


def test_semantic_picks_the_nearest_examples(minilm: Any, tmp_path: Path) -> None:
    vectors.forget_memory()
    counting = CountingEmbedder(minilm)
    prompt = semantic_prompt(counting)
    out = prompt.format({"question": "Where can my kids learn to ski in Austria?"}, cache_dir=tmp_path)
    assert out.examples[0]["output"] == "Look at Serfaus in Tyrol."
    assert [m["role"] for m in out.messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    out = prompt.format({"question": "Swimming with sea turtles over a coral reef"}, cache_dir=tmp_path)
    assert out.examples[0]["output"] == "Gili Islands, Indonesia."
    assert counting.texts == len(EXAMPLES) + 2  # the set once, then one text per query


def test_index_is_cached_on_disk_per_example_set(minilm: Any, tmp_path: Path) -> None:
    vectors.forget_memory()
    first = CountingEmbedder(minilm)
    semantic_prompt(first).format({"question": "museums"}, cache_dir=tmp_path)
    files = list(tmp_path.glob("*.npy"))
    assert len(files) == 1 and first.texts == len(EXAMPLES) + 1

    vectors.forget_memory()  # a new process: only the disk cache is left
    second = CountingEmbedder(minilm)
    out = semantic_prompt(second).format({"question": "art galleries"}, cache_dir=tmp_path)
    assert second.texts == 1  # only the query was embedded
    assert out.examples[0]["output"] == "Florence, for the Uffizi."

    third = CountingEmbedder(minilm)  # another example set gets its own index
    semantic_prompt(third, examples=EXAMPLES[:4]).format({"question": "art"}, cache_dir=tmp_path)
    assert third.texts == 4 + 1 and len(list(tmp_path.glob("*.npy"))) == 2


def test_semantic_with_budget_keeps_the_most_similar(minilm: Any, tmp_path: Path) -> None:
    prompt = semantic_prompt(minilm, k=4, max_tokens=30)
    out = prompt.format({"question": "Family ski trip in the Alps"}, cache_dir=tmp_path)
    assert (len(out.examples), out.examples_dropped) == (1, 3)
    assert out.examples[0]["output"] == "Look at Serfaus in Tyrol."


def test_unloadable_model_is_unavailable(tmp_path: Path) -> None:
    embedder = MiniLMEmbedder(path=tmp_path / "nowhere")
    with pytest.raises(Unavailable, match="cannot load the embedding model"):
        embedder.encode(["x"])
