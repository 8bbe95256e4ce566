"""Drift on travel requests with the real all-MiniLM-L6-v2: a new way of asking is found, a resample is not.

The shifted traffic is the generator's evaluation split: templates (ways of asking) and destinations
that training traffic never uses. The many null trials reuse one embedding of a small pool (the
embedder below answers from it), as a monitor reuses cached embeddings across windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from llmloop.examples.travel.generate import generate
from llmloop.services.monitor import drift
from llmloop.services.monitor.embedding_cache import content_hash
from llmloop.services.prompts.embeddings import MiniLMEmbedder
from llmloop.store.tables.monitoring import EmbeddingRow

N = 60
TRIALS = 100


def _request(user_message: str) -> str:
    return user_message.split("\nOptions:")[0]


class PoolEmbedder:
    """Answers from vectors embedded once (and counts what it was asked for)."""

    def __init__(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        self.model_id, self.vectors, self.asked = model_id, vectors, 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.asked += len(texts)
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)


@pytest.fixture(scope="module")
def travel() -> dict[str, Any]:
    gen = generate(7, n_sft=2 * N + 40, n_pref=0, n_eval=N)
    usual = [_request(e.user) for e in gen.sft]
    new_way = [_request(e.user) for e in gen.eval]
    minilm = MiniLMEmbedder()
    texts = sorted(set(usual + new_way))
    vectors = dict(zip(texts, minilm.encode(texts), strict=True))
    return {"usual": usual, "new_way": new_way, "embedder": PoolEmbedder(minilm.model_id, vectors)}


def test_a_new_way_of_asking_is_detected_and_explained(travel: dict[str, Any]) -> None:
    result = drift.detect(
        None, reference=travel["usual"][:N], current=travel["new_way"], method="auto", permutations=499,
        embedder=travel["embedder"],
    )  # fmt: skip
    assert result.method == "mmd" and result.p_value < 0.01 and result.drifted
    assert result.p_value >= 1 / 500  # (k + 1) / (n + 1): never 0
    assert {t.method for t in result.tests} == {"mmd", "length", "classifier", "topic"}
    classifier = next(t for t in result.tests if t.method == "classifier")
    assert classifier.statistic > 0.7  # the second opinion agrees
    assert result.examples and all(e.text in travel["new_way"] for e in result.examples)
    grown = [c for c in result.topics if c.current_share > c.reference_share and c.examples]
    assert grown and all(x in travel["new_way"] for c in grown for x in c.examples)


def test_resampled_traffic_is_not_flagged_in_95_percent_of_seeded_trials(travel: dict[str, Any]) -> None:
    pool = travel["usual"]
    flagged = 0
    for seed in range(TRIALS):
        order = np.random.default_rng([7, seed]).permutation(len(pool))  # a stream apart from the test's
        reference = [pool[i] for i in order[:N]]
        current = [pool[i] for i in order[N : 2 * N]]
        result = drift.detect(
            None, reference=reference, current=current, method="mmd", permutations=199, seed=seed,
            embedder=travel["embedder"],
        )  # fmt: skip
        flagged += result.p_value < 0.05
    assert flagged <= 0.05 * TRIALS, f"{flagged} of {TRIALS} unshifted samples flagged at 0.05"


def test_embeddings_are_cached_in_the_store_by_content_hash(ctx: Any, travel: dict[str, Any]) -> None:
    embedder = travel["embedder"]
    reference, current = travel["usual"][:40], travel["new_way"][:40]
    drift._references.clear()  # start from an empty process cache (another backend's run filled it)
    before = embedder.asked
    first = drift.detect(
        ctx, reference=reference, current=current, method="mmd", permutations=99, embedder=embedder
    )
    asked = embedder.asked - before
    assert asked == len(set(reference) | set(current))
    drift._references.clear()  # a new process: only the store remembers
    again = drift.detect(
        ctx, reference=reference, current=current, method="mmd", permutations=99, embedder=embedder
    )
    assert embedder.asked - before == asked  # nothing embedded twice
    assert again.p_value == first.p_value
    with ctx.db.session() as s:
        row = s.get(EmbeddingRow, (content_hash(current[0]), embedder.model_id))
        assert row is not None and len(row.vector) == 384 * 4
