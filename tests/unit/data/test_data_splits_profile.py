"""Split assignment, leakage, and the profile's arithmetic, on arrays and tiny batches."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from llmloop.services.data.hashing import normalise, row_hashes
from llmloop.services.data.kinds import RowBuilder
from llmloop.services.data.profile import LengthAccumulator, Profiler, whitespace_tokens
from llmloop.services.data.splits import assign, leakage

FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def keys(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64)


def test_split_is_deterministic_and_close_to_the_fractions() -> None:
    k = keys(20_000)
    a, b = assign(k, FRACTIONS, seed=7), assign(k, FRACTIONS, seed=7)
    assert np.array_equal(a, b)
    shares = np.bincount(a, minlength=3) / len(k)
    assert shares == pytest.approx([0.8, 0.1, 0.1], abs=0.01)
    assert not np.array_equal(a, assign(k, FRACTIONS, seed=8))  # the seed matters


def test_existing_rows_keep_their_split_when_rows_are_added() -> None:
    old = keys(5_000, seed=1)
    grown = np.concatenate([old[:2_000], keys(3_000, seed=2), old[2_000:]])
    before = assign(old, FRACTIONS, seed=0)
    after = assign(grown, FRACTIONS, seed=0)
    assert np.array_equal(before, np.concatenate([after[:2_000], after[5_000:]]))


def test_same_key_always_lands_in_the_same_split() -> None:
    k = np.repeat(keys(500), 3)
    labels = assign(k, FRACTIONS, seed=3).reshape(-1, 3)
    assert (labels == labels[:, :1]).all()


def test_stratified_split_keeps_each_stratum_in_proportion() -> None:
    k = keys(3_000)
    strata = np.array(["beach"] * 2_700 + ["ski"] * 300, dtype=object)
    labels = assign(k, FRACTIONS, seed=0, strata=strata)
    for stratum, n in (("beach", 2_700), ("ski", 300)):
        counts = np.bincount(labels[strata == stratum], minlength=3)
        assert counts == pytest.approx([0.8 * n, 0.1 * n, 0.1 * n], abs=1)


def test_leakage_counts_rows_of_a_later_split_seen_in_an_earlier_one() -> None:
    labels = np.array(["train", "train", "test", "test", "validation"], dtype=object)
    row = np.array([1, 2, 1, 3, 4], dtype=np.uint64)
    key = np.array([10, 20, 10, 20, 30], dtype=np.uint64)
    pairs = {(p.a, p.b): (p.exact, p.key) for p in leakage(labels, row, key)}
    assert pairs == {
        ("train", "validation"): (0, 0),
        ("train", "test"): (1, 2),
        ("validation", "test"): (0, 0),
    }


def test_whitespace_tokens_match_str_split() -> None:
    texts = ["", "one", "  two  words ", "tabs\tand\nnewlines", "ünïcode wörds ok", "x" * 70_000]
    arr = pa.array(texts).slice(1)  # a sliced array must be read at its offset
    assert whitespace_tokens(arr).tolist() == [len(t.split()) for t in texts[1:]]


def test_length_stats_are_exact() -> None:
    acc = LengthAccumulator()
    acc.add(np.array([1, 2, 2, 3, 100_000]))
    stats = acc.stats()
    assert (stats.count, stats.min, stats.max, stats.p50, stats.total) == (5, 1, 100_000, 2, 100_008)
    assert sum(stats.histogram.counts) == 5


def test_normalise_folds_case_spaces_and_punctuation() -> None:
    out = normalise(pa.array(["Hello, World!", "hello world", "  HELLO   world...", "Grüße"])).to_pylist()
    assert out[0] == out[1] == out[2] == b"helloworld"
    assert out[3] == "grüße".encode()


def chat_batch(rows: list[list[tuple[str, str]]]) -> pa.RecordBatch:
    b = RowBuilder("chat")
    for r in rows:
        b.add({"messages": [{"role": role, "content": c} for role, c in r]})
    return b.flush()


def test_profile_of_chat_rows() -> None:
    batch = chat_batch(
        [
            [("system", "Be brief."), ("user", "Ski in March?"), ("assistant", "Bansko.")],
            [("user", "ski in march"), ("assistant", "Bansko!")],
            [("user", "Email me at a@b.io"), ("assistant", "")],
            [("system", "Be brief."), ("user", "Ski in March?"), ("assistant", "Bansko.")],
        ]
    )
    p = Profiler("chat", ngram_rows=10)
    p.update(batch, row_hashes(batch, "chat"))
    prof = p.result()
    assert prof.rows == 4 and prof.duplicates.exact_rows == 1
    assert prof.duplicates.near_rows == 1 and prof.duplicates.examples == [[0, 3]]
    assert prof.chat is not None
    assert prof.chat.role_counts == {"assistant": 4, "system": 2, "user": 4}
    assert (
        prof.chat.rows_with_system,
        prof.chat.rows_without_user,
        prof.chat.rows_ending_with_assistant,
    ) == (2, 0, 4)
    assert prof.fields["messages.assistant"].empty == 1
    assert prof.fields["messages.user"].pii["email"] == 1 and prof.pii["email"] == 1
    assert prof.fields["messages.user"].tokens.max == 4
    assert prof.top_ngrams["1"][0].text in {"ski", "bansko", "in", "march"}


def test_near_duplicates_differ_only_in_case_and_punctuation() -> None:
    b = RowBuilder("prompt_completion")
    for p, c in [("Best beach?", "Menorca."), ("best beach", "menorca"), ("Best beach?", "Ibiza")]:
        b.add({"prompt": p, "completion": c})
    batch = b.flush()
    h = row_hashes(batch, "prompt_completion")
    assert len(set(h.row64.tolist())) == 3
    assert h.near[0] == h.near[1] != h.near[2]
    assert h.key[0] == h.key[1] == h.key[2]  # same prompt: the same split, and a "change" in a diff


def test_language_guess_reads_the_sample() -> None:
    b = RowBuilder("text")
    texts = ["Where can I go skiing in March on a small budget?"] * 3 + [
        "Où puis-je faire du ski en mars avec un petit budget ?"
    ]
    for i, t in enumerate(texts):
        b.add({"text": f"{t} ({i})"})
    batch = b.flush()
    p = Profiler("text")
    p.update(batch, row_hashes(batch, "text"))
    assert p.result().languages == {"en": 0.75, "fr": 0.25}
