"""Metrics against known values: sacrebleu and rouge-score reference numbers, hand-computed EM/F1, validity."""

from __future__ import annotations

import random

import pytest
import sacrebleu
from rouge_score import rouge_scorer

import llmloop as ll
from llmloop.errors import InvalidInput
from llmloop.services.evaluate.metrics.rouge import lcs_length

PREDS = [
    "the cat sat on the mat",
    "hello there general kenobi",
    "a",
    "",
    "Paris is the capital of France .",
]
REFS = [
    "the cat is on the mat",
    "hello there general kenobi",
    "b c",
    "something",
    "The capital of France is Paris.",
]


def test_bleu_matches_sacrebleu_corpus_and_sentence_scores() -> None:
    r = ll.metrics.compute("bleu", predictions=PREDS, references=REFS)
    assert r.score == pytest.approx(34.32294652371415, abs=1e-9)  # sacrebleu 2.x on these strings
    assert r.score == pytest.approx(sacrebleu.corpus_bleu(PREDS, [REFS]).score, abs=1e-9)
    expected = [sacrebleu.sentence_bleu(p, [x]).score for p, x in zip(PREDS, REFS, strict=True)]
    assert r.per_example == pytest.approx(expected, abs=1e-9)
    assert r["score"] == r.score and r["per_example"] == r.per_example
    assert r.per_example[1] == pytest.approx(100.0)


def test_bleu_with_several_references_matches_sacrebleu() -> None:
    refs = [
        ["the cat is on the mat", "a cat sat on a mat"],
        ["hi there"],
        ["b c", "a"],
        ["x"],
        ["Paris is the capital of France."],
    ]
    r = ll.metrics.compute("bleu", predictions=PREDS, references=refs)
    streams = [[rs[j] if j < len(rs) else None for rs in refs] for j in range(2)]
    assert r.score == pytest.approx(sacrebleu.corpus_bleu(PREDS, streams).score, abs=1e-9)
    assert r.per_example[2] == pytest.approx(sacrebleu.sentence_bleu("a", ["b c", "a"]).score, abs=1e-9)


def test_chrf_matches_sacrebleu() -> None:
    r = ll.metrics.compute("chrf", predictions=PREDS, references=REFS)
    assert r.score == pytest.approx(sacrebleu.corpus_chrf(PREDS, [REFS]).score, abs=1e-9)
    assert r.per_example[0] == pytest.approx(sacrebleu.sentence_chrf(PREDS[0], [REFS[0]]).score, abs=1e-9)


def test_rouge_hand_computed_values() -> None:
    pred, ref = ["the cat sat on the mat"], ["the cat is on the mat"]
    assert ll.metrics.compute("rouge1", predictions=pred, references=ref).score == pytest.approx(5 / 6)
    assert ll.metrics.compute("rouge2", predictions=pred, references=ref).score == pytest.approx(0.6)
    assert ll.metrics.compute("rougeL", predictions=pred, references=ref).score == pytest.approx(5 / 6)


def test_rouge_equals_rouge_score_on_random_texts_and_takes_best_reference() -> None:
    rng = random.Random(7)
    words = [
        "the",
        "a",
        "trip",
        "beach",
        "hike",
        "museum",
        "summer",
        "family",
        "quiet",
        "city",
        "old",
        "town",
    ]
    preds = [" ".join(rng.choices(words, k=rng.randint(0, 30))) for _ in range(150)]
    refs = [[" ".join(rng.choices(words, k=rng.randint(1, 30))) for _ in range(2)] for _ in range(150)]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    for key in ("rouge1", "rouge2", "rougeL"):
        r = ll.metrics.compute(key, predictions=preds, references=refs)
        expected = [scorer.score_multi(rs, p)[key].fmeasure for p, rs in zip(preds, refs, strict=True)]
        assert r.per_example == pytest.approx(expected, abs=1e-12)
        assert r.score == pytest.approx(sum(expected) / len(expected))


def test_bit_parallel_lcs_equals_dynamic_programming() -> None:
    rng = random.Random(3)
    for _ in range(500):
        a = rng.choices("abcde", k=rng.randint(0, 70))
        b = rng.choices("abcde", k=rng.randint(0, 70))
        table = rouge_scorer._lcs_table(a, b) if a and b else [[0]]
        assert lcs_length(a, b) == table[-1][-1]


def test_exact_match_and_token_f1_normalise_like_squad() -> None:
    em = ll.metrics.compute(
        "exact_match",
        predictions=["The Eiffel Tower!", "Paris, France", "an apple", "nope"],
        references=["eiffel tower", "Paris", ["pear", "Apple"], "yes"],
    )
    assert em.per_example == [1.0, 0.0, 1.0, 0.0]
    assert em.score == 0.5
    f1 = ll.metrics.compute(
        "token_f1", predictions=["Paris, France", "the big red bus"], references=["Paris", "a red bus"]
    )
    # "paris france" vs "paris": P=1/2, R=1 -> 2/3; "big red bus" vs "red bus": P=2/3, R=1 -> 0.8
    assert f1.per_example == pytest.approx([2 / 3, 0.8])


def test_regex_json_and_schema_validity() -> None:
    one_word = ll.metrics.compute(
        "regex", predictions=["Paris", " Paris \n", "Paris, France"], pattern=r"\w+"
    )
    assert one_word.per_example == [1.0, 1.0, 0.0]
    search = ll.metrics.compute("regex", predictions=["answer: 42", "none"], pattern=r"\d+", mode="search")
    assert search.per_example == [1.0, 0.0]
    valid = ll.metrics.compute("json_valid", predictions=['{"x": 1}', "{x: 1}", '```json\n{"x": 1}\n```'])
    assert valid.per_example == [1.0, 0.0, 0.0]
    fenced = ll.metrics.compute("json_valid", predictions=['```json\n{"x": 1}\n```'], allow_code_fence=True)
    assert fenced.per_example == [1.0]
    schema = {"type": "object", "required": ["x"], "properties": {"x": {"type": "integer"}}}
    r = ll.metrics.compute(
        "json_schema", predictions=['{"x": 1}', '{"x": "1"}', '{"y": 1}', "not json"], schema=schema
    )
    assert r.per_example == [1.0, 0.0, 0.0, 0.0]
    assert r.details["invalid_json"] == 1


def test_bad_metric_options_fail_when_built() -> None:
    with pytest.raises(InvalidInput, match="invalid pattern"):
        ll.metrics.compute("regex", predictions=["x"], pattern="(")
    with pytest.raises(InvalidInput, match="invalid schema"):
        ll.metrics.compute("json_schema", predictions=["{}"], schema={"type": "no-such-type"})
    with pytest.raises(InvalidInput, match="needs prices"):
        ll.metrics.compute("token_cost", predictions=["x"])


def test_reference_metrics_need_references_of_the_right_length() -> None:
    with pytest.raises(InvalidInput, match="needs references"):
        ll.metrics.compute("bleu", predictions=["a"])
    with pytest.raises(InvalidInput, match="references has 2 items but there are 1 predictions"):
        ll.metrics.compute("rougeL", predictions=["a"], references=["a", "b"])


def test_latency_tokens_and_cost() -> None:
    lat = ll.metrics.compute("latency", predictions=["a"] * 4, latencies_ms=[100.0, 200.0, 300.0, None])
    assert lat.score == pytest.approx(200.0)
    assert lat.per_example[3] is None and lat.details["unscored"] == 1
    assert lat.details["p50"] == pytest.approx(200.0)
    cost = ll.metrics.compute(
        "token_cost",
        predictions=["a", "b"],
        prompt_tokens=[1000, 10],
        completion_tokens=[500, None],
        input_per_1k=0.5,
        output_per_1k=2.0,
    )
    assert cost.per_example == [pytest.approx(1.5), None]
    assert cost.details["total"] == pytest.approx(1.5)


def test_bleu_segment_statistics_equal_sacrebleus_own() -> None:
    from sacrebleu.metrics.bleu import BLEU

    from llmloop.services.evaluate.metrics.bleu import _ref_streams, bleu_segment_stats

    rng = random.Random(11)
    words = ["a", "b", "c", "d", "e", ".", ",", "!", "?", "the", "A", "B", "3.5", "x-y"]
    for lowercase in (False, True):
        bleu = BLEU(force=True, lowercase=lowercase)
        for _ in range(200):
            preds = [" ".join(rng.choices(words, k=rng.randint(0, 15))) for _ in range(4)]
            refs = [
                [" ".join(rng.choices(words, k=rng.randint(0, 15))) for _ in range(rng.randint(1, 3))]
                for _ in range(4)
            ]
            assert bleu_segment_stats(bleu, preds, refs) == bleu._extract_corpus_statistics(
                preds, _ref_streams(refs)
            )
