"""The metric registry: names, entry points, task metrics and their error isolation."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import tomllib

import llmloop as ll
from llmloop.errors import InvalidInput, Unavailable
from llmloop.services.evaluate.metrics import Metric, MetricInputs, MetricResult
from llmloop.services.evaluate.metrics.registry import BUILTINS, GROUP

ROOT = Path(__file__).resolve().parents[3]


def test_builtins_are_declared_as_entry_points_in_pyproject() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][GROUP]
    core = {k: v for k, v in declared.items() if v.startswith("llmloop.services.")}
    assert core == BUILTINS
    # the travel example's metrics come through the plugin door, from the example package
    plugins = {k: v for k, v in declared.items() if k not in core}
    assert plugins and all(v.startswith("llmloop.examples.travel.metrics:") for v in plugins.values())
    assert not any("travel" in k for k in BUILTINS)


def test_list_has_every_builtin_and_describe_loads_them() -> None:
    names = ll.metrics.list()
    for name in ("bleu", "chrf", "rouge1", "rouge2", "rougeL", "exact_match", "token_f1", "regex", "json_schema",
                 "semantic_similarity", "perplexity", "latency", "token_cost", "llm_judge",
                 "travel_recommendation_correctness"):  # fmt: skip
        assert name in names
    infos = {i.name: i for i in ll.metrics.describe()}
    assert infos["bleu"].scale == "percent" and infos["bleu"].requires_references
    assert infos["latency"].higher_is_better is False
    assert infos["regex"].source == "builtin"


def test_unknown_metric_suggests_the_closest_name() -> None:
    with pytest.raises(InvalidInput) as err:
        ll.metrics.compute("rougel", predictions=["x"], references=["x"])
    assert err.value.details["did_you_mean"] == "rougeL"


def test_task_metric_decorator_registers_by_name_and_reads_metadata() -> None:
    def mentions_city(prediction: str, metadata: dict[str, str]) -> bool:
        return metadata["city"].lower() in prediction.lower()

    with ll.metrics.register("mentions_city", mentions_city):
        r = ll.metrics.compute(
            "mentions_city",
            predictions=["Go to Rome", "Stay home"],
            metadata=[{"city": "Rome"}, {"city": "Oslo"}],
        )
        assert r.per_example == [1.0, 0.0]
        assert "mentions_city" in ll.metrics.list()
    assert "mentions_city" not in ll.metrics.list()


def test_task_metric_decorator_form() -> None:
    from llmloop.services.evaluate.metrics.registry import _python

    @ll.metrics.task_metric("answer_length_ok", higher_is_better=True)
    def answer_length_ok(prediction: str, reference: str) -> float:
        return float(len(prediction) <= 2 * len(reference))

    try:
        r = ll.metrics.compute("answer_length_ok", predictions=["abc", "abcdefgh"], references=["ab", "ab"])
        assert r.per_example == [1.0, 0.0]
        assert ll.metrics.get("answer_length_ok").requires_references
    finally:
        _python.pop("answer_length_ok")


def test_a_failing_row_is_unscored_and_counted_but_all_failing_is_an_error() -> None:
    def needs_key(prediction: str, metadata: dict[str, str]) -> bool:
        return metadata["key"] in prediction

    with ll.metrics.register("needs_key", needs_key):
        r = ll.metrics.compute("needs_key", predictions=["a", "b"], metadata=[{"key": "a"}, {}])
        assert r.per_example == [1.0, None]
        assert r.details["errors"] == 1 and "KeyError" in r.details["first_error"]
        assert r.score == 1.0
        with pytest.raises(InvalidInput, match="failed on every example"):
            ll.metrics.compute("needs_key", predictions=["a"], metadata=[{}])


def test_task_metric_signature_and_return_type_are_checked() -> None:
    with pytest.raises(InvalidInput, match="unknown parameter 'row'"):
        ll.metrics.register("bad_sig", lambda prediction, row: 1.0)

    with (
        ll.metrics.register("bad_type", lambda prediction: "yes"),
        pytest.raises(InvalidInput, match="returned str"),
    ):
        ll.metrics.compute("bad_type", predictions=["x"])


def test_builtin_names_cannot_be_replaced() -> None:
    with pytest.raises(InvalidInput, match="built-in"):
        ll.metrics.register("bleu", lambda prediction: 1.0)


def test_a_metric_class_plugs_in_with_options() -> None:
    class Longer(Metric):
        name = "longer_than"

        def __init__(self, *, n: int) -> None:
            self.n = n

        def compute(self, inputs: MetricInputs) -> MetricResult:
            return self.result_from_scores([float(len(p) > self.n) for p in inputs.predictions])

    with ll.metrics.register("longer_than", Longer):
        assert ll.metrics.compute("longer_than", predictions=["abc", "a"], n=2).per_example == [1.0, 0.0]
        with pytest.raises(TypeError):
            ll.metrics.compute("longer_than", predictions=["abc"])


def test_travel_metric_scores_with_the_travel_scorer_or_says_it_is_missing() -> None:
    """The travel example may not be installed in every checkout; both outcomes are checked."""
    if importlib.util.find_spec("llmloop.examples") is None:
        with pytest.raises(Unavailable, match="travel example"):
            ll.metrics.compute("travel_recommendation_correctness", predictions=["x"], metadata=[{}])
        return
    meta = {"acceptable": ["Zermatt"], "options": ["Zermatt", "Nice"]}
    r = ll.metrics.compute(
        "travel_recommendation_correctness",
        predictions=["Recommendation: Zermatt, Switzerland\nWhy: skiing", "Recommendation: Nice, France"],
        metadata=[meta, meta],
    )
    assert r.per_example == [1.0, 0.0]
