"""A pipeline that cannot run is refused before anything runs, naming the key path at fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.integration.pipelines.helpers import basic, folder

from llmloop.errors import InvalidInput
from llmloop.services.pipelines.definition import load_definition, parse_definition


def _refused(defn: dict[str, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as e:
        parse_definition(defn)
    return e.value


def test_the_basic_pipeline_is_valid() -> None:
    defn = parse_definition(basic())
    assert [s.name for s in defn.steps] == ["data", "count", "twice", "other"]


def test_an_unknown_step_kind_is_named_with_a_suggestion() -> None:
    defn = basic()
    defn["steps"][0]["kind"] = "injest"
    err = _refused(defn)
    assert err.details["key"] == "steps[0].kind"
    assert "unknown step kind 'injest'; did you mean 'ingest'?" in err.message


def test_a_cycle_is_refused_at_an_edge_of_it() -> None:
    defn = basic()
    defn["steps"][1]["inputs"]["loop"] = "steps.twice.value"
    err = _refused(defn)
    assert err.details["key"] in {"steps[1].inputs.loop", "steps[2].inputs.rows"}  # an edge of the cycle
    assert "cycle: count -> twice -> count" in err.message


def test_a_missing_required_input_is_refused() -> None:
    defn = {"name": "p", "steps": [{"name": "s", "kind": "split"}]}
    err = _refused(defn)
    assert err.details["key"] == "steps[0].inputs.data"
    assert "missing input 'data' (dataset)" in err.message


def test_a_reference_to_a_missing_step_or_output_is_refused() -> None:
    defn = basic()
    defn["steps"][2]["inputs"]["rows"] = "steps.cout.rows"
    err = _refused(defn)
    assert err.details["key"] == "steps[2].inputs.rows"
    assert "no step named 'cout'; did you mean 'count'?" in err.message
    defn["steps"][2]["inputs"]["rows"] = "steps.count.nope"
    err = _refused(defn)
    assert "step 'count' has no output 'nope' (it gives: rows, label)" in err.message


def test_a_type_mismatch_is_refused() -> None:
    defn = {
        "name": "p",
        "steps": [
            {"name": "data", "kind": "ingest", "config": {"name": "d", "path": "x.jsonl"}},
            {"name": "cut", "kind": "split", "inputs": {"data": "model:travel@champion"}},
        ],
    }
    err = _refused(defn)
    assert err.details["key"] == "steps[1].inputs.data"
    assert "type mismatch: split input 'data' takes a dataset, got a model" in err.message


def test_unknown_keys_name_the_path(tmp_path: Path) -> None:
    work = folder(tmp_path)
    defn = basic()
    defn["steps"][3]["retry"] = 2
    path = work.pipeline(defn)
    with pytest.raises(InvalidInput) as e:
        load_definition(path)
    assert e.value.details["key"] == "steps[3].retry"
    assert "did you mean 'steps[3].retries'?" in e.value.message


def test_the_cli_refuses_before_anything_is_written(tmp_path: Path, cli: Any, isolated_home: Path) -> None:
    work = folder(tmp_path)
    defn = basic()
    defn["steps"][0]["kind"] = "injest"
    path = work.pipeline(defn)
    for verb in ("validate", "run"):
        out = cli("pipeline", verb, str(path))
        assert out.exit_code == 2
        assert out.stderr.startswith(f"error: {path}: steps[0].kind: unknown step kind 'injest'")
    assert not (isolated_home / "llmloop.db").exists()  # nothing ran, not even the store opened


def test_a_function_step_whose_module_is_missing_is_refused_before_running(tmp_path: Path, cli: Any) -> None:
    work = folder(tmp_path)
    defn = basic()
    defn["steps"][3]["kind"] = "no_such_module:constant"
    out = cli("pipeline", "run", str(work.pipeline(defn)))
    assert out.exit_code == 2
    assert "steps[3].kind: cannot find module 'no_such_module'" in out.stderr
    assert cli("pipeline", "runs", "--json").stdout.count('"id"') == 0
