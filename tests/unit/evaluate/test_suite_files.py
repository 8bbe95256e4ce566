"""Suite YAML: valid files, shorthands, and errors that name the file, the key path and a suggestion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmloop.errors import InvalidInput
from llmloop.services.evaluate.gates import parse_rules
from llmloop.services.evaluate.suite import load_suite, parse_suite

ROOT = Path(__file__).resolve().parents[3]


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "suite.yaml"
    p.write_text(text)
    return p


def test_shipped_suites_load_and_their_gates_parse() -> None:
    for rel in ("examples/travel/suite.yaml", "examples/suites/instruction_sanity.yaml"):
        suite = load_suite(ROOT / rel)
        assert parse_rules(suite.gates)
    travel = load_suite(ROOT / "examples/travel/suite.yaml")
    assert [m.name for m in travel.metrics][:1] == ["task_accuracy"]
    assert travel.dataset.ref and travel.prompt and travel.prompt.ref


def test_shorthands(tmp_path: Path) -> None:
    s = load_suite(
        _write(
            tmp_path,
            "name: s\ndataset: items.jsonl\nprompt: qa@2\nmetrics: [bleu, {metric: regex, key: fmt, options: {pattern: x}}]\ngates: [bleu >= 1]\n",
        )
    )
    assert s.dataset.path == "items.jsonl" and s.prompt is not None and s.prompt.ref == "qa@2"
    assert [m.name for m in s.metrics] == ["bleu", "fmt"]
    assert s.gates[0].rule == "bleu >= 1" and s.gates[0].required
    assert s.resolve_path("items.jsonl") == tmp_path / "items.jsonl"


def test_sha_ignores_location_and_description_but_not_content(tmp_path: Path) -> None:
    a = parse_suite(
        {"name": "s", "dataset": "a.jsonl", "metrics": ["bleu"], "description": "x"}, base_dir=tmp_path
    )
    b = parse_suite(
        {"name": "s", "dataset": "a.jsonl", "metrics": ["bleu"], "description": "y"}, base_dir=tmp_path / "z"
    )
    c = parse_suite({"name": "s", "dataset": "a.jsonl", "metrics": ["chrf"]})
    assert a.sha256() == b.sha256() != c.sha256()


@pytest.mark.parametrize(
    ("body", "message", "key", "suggestion"),
    [
        (
            "name: s\ndataset: a.jsonl\nmetrics: [bleu]\ngeneraton: {}\n",
            "unknown key 'generaton'",
            "generaton",
            "generation",
        ),
        (
            "name: s\ndataset: a.jsonl\nmetrics: [{metric: bleu, optons: {}}]\n",
            "unknown key 'metrics[0].optons'",
            "metrics[0].optons",
            "metrics[0].options",
        ),
        (
            "name: s\ndataset: {path: a.jsonl, fields: {referenc: x}}\nmetrics: [bleu]\n",
            "dataset.fields.referenc",
            "dataset.fields.referenc",
            "dataset.fields.reference",
        ),
        (
            "name: s\ndataset: a.jsonl\nmetrics: [bleu]\ngeneration: {batch_sise: 2}\n",
            "generation.batch_sise",
            "generation.batch_sise",
            "generation.batch_size",
        ),
    ],
)
def test_unknown_keys_name_the_path_and_the_closest_key(
    tmp_path: Path, body: str, message: str, key: str, suggestion: str
) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(InvalidInput, match=re.escape(message)) as err:
        load_suite(path)
    assert err.value.details == {"file": str(path), "key": key, "did_you_mean": suggestion}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("dataset: a.jsonl\nmetrics: [bleu]\n", "missing key 'name'"),
        ("name: s\ndataset: {path: a.jsonl, ref: b}\nmetrics: [bleu]\n", "exactly one of 'ref'"),
        ("name: s\ndataset: a.jsonl\nmetrics: []\n", "metrics"),
        ("name: s\ndataset: a.jsonl\nmetrics: [bleu, bleu]\n", "appears twice"),
        (
            "name: s\ndataset: a.jsonl\nmetrics: [bleu]\nprompt: {template: x, messages: []}\n",
            "exactly one of 'ref', 'template'",
        ),
        (
            "name: s\ndataset: a.jsonl\nmetrics: [bleu]\ngeneration: {batch_size: 0}\n",
            "generation.batch_size",
        ),
        ("- just\n- a list\n", "mapping of keys"),
        ("name: s\n  bad: indentation\n", "not valid YAML"),
    ],
)
def test_invalid_suites(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_suite(_write(tmp_path, body))


def test_missing_suite_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read suite"):
        load_suite(tmp_path / "nope.yaml")
