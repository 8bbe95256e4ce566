"""Gate rules: parsing of the three shapes, clear parse errors, units, and pass/fail logic."""

from __future__ import annotations

import pytest

from llmloop.errors import InvalidInput
from llmloop.services.evaluate.gates import absolute_result, parse_rule, relative_result, threshold
from llmloop.services.evaluate.schemas import MetricAggregate


def _agg(key: str, score: float, *, hib: bool = True, scale: str = "fraction") -> MetricAggregate:
    return MetricAggregate(key=key, metric=key, score=score, higher_is_better=hib, scale=scale)


def test_parse_absolute_rules() -> None:
    r = parse_rule("task_accuracy >= 0.6")
    assert (r.kind, r.metric, r.op, r.value, r.stat) == ("absolute", "task_accuracy", ">=", 0.6, None)
    p95 = parse_rule("p95 latency <= 500ms")
    assert (p95.stat, p95.metric, p95.unit) == ("p95", "latency", "ms")
    assert parse_rule("latency P99 < 1.5s").stat == "p99"
    assert parse_rule("  error_rate   <=  5% ").unit == "%"


def test_parse_comparative_rules() -> None:
    r = parse_rule("rougeL not worse than champion by more than 0.01 (95% CI)")
    assert (r.kind, r.metric, r.value, r.baseline, r.confidence) == (
        "not_worse",
        "rougeL",
        0.01,
        "champion",
        0.95,
    )
    assert parse_rule("bleu is not worse than models:travel@champion by more than 0.5").confidence == 0.95
    b = parse_rule("task_accuracy better than baseline (90% CI)")
    assert (b.kind, b.confidence) == ("better", 0.9)


@pytest.mark.parametrize(
    ("rule", "hint"),
    [
        ("task_accuracy >=", "number is missing"),
        ("task_accuracy => 0.6", "use one of"),
        ("rougeL not worse than champion", "by more than"),
        ("task_accuracy is good", "no comparison"),
        ("", "empty gate rule"),
        ("p95 latency p99 <= 3", "two statistics"),
        ("bleu better than base (20% CI)", "between 50% and 99.9%"),
    ],
)
def test_parse_errors_say_what_is_wrong(rule: str, hint: str) -> None:
    with pytest.raises(InvalidInput, match=hint):
        parse_rule(rule)


def test_units_convert_to_the_metric_scale() -> None:
    assert threshold(parse_rule("latency <= 0.5s"), "ms") == 500.0
    assert threshold(parse_rule("latency <= 500ms"), "ms") == 500.0
    assert threshold(parse_rule("acc >= 60%"), "fraction") == pytest.approx(0.6)
    assert threshold(parse_rule("bleu >= 30%"), "percent") == 30.0
    with pytest.raises(InvalidInput, match="milliseconds"):
        threshold(parse_rule("acc >= 5ms"), "fraction")


def test_absolute_results() -> None:
    ok = absolute_result(parse_rule("acc >= 0.6"), True, _agg("acc", 0.61), None, None)
    assert ok.status == "pass" and ok.observed == 0.61
    bad = absolute_result(parse_rule("acc >= 0.6"), True, _agg("acc", 0.59), None, None)
    assert bad.status == "fail" and "is false" in bad.detail
    lat = _agg("latency", 150.0, hib=False, scale="ms")
    values = [100.0] * 90 + [900.0] * 10  # p95 = 900, p90 = 180 (linear interpolation)
    assert absolute_result(parse_rule("p95 latency <= 500ms"), True, lat, values, None).status == "fail"
    assert absolute_result(parse_rule("p90 latency <= 500ms"), True, lat, values, None).status == "pass"
    assert absolute_result(parse_rule("max latency <= 500ms"), True, lat, values, None).status == "fail"
    assert absolute_result(parse_rule("error_rate <= 0.05"), True, None, None, 0.1).status == "fail"


def test_not_worse_uses_the_lower_bound_when_higher_is_better_and_the_upper_when_lower() -> None:
    rule = parse_rule("rougeL not worse than champion by more than 0.01 (95% CI)")
    agg = _agg("rougeL", 0.5)
    assert relative_result(rule, True, agg, -0.002, -0.009, 0.005).status == "pass"
    assert relative_result(rule, True, agg, 0.004, -0.011, 0.02).status == "fail"
    lat_rule = parse_rule("latency not worse than champion by more than 50ms")
    lat = _agg("latency", 300.0, hib=False, scale="ms")
    assert relative_result(lat_rule, True, lat, 10.0, -20.0, 40.0).status == "pass"
    assert relative_result(lat_rule, True, lat, 10.0, -20.0, 60.0).status == "fail"


def test_better_than_needs_the_whole_interval_on_the_better_side() -> None:
    rule = parse_rule("acc better than champion")
    agg = _agg("acc", 0.7)
    assert relative_result(rule, True, agg, 0.05, 0.01, 0.09).status == "pass"
    assert relative_result(rule, True, agg, 0.05, -0.01, 0.09).status == "fail"
