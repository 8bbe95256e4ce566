"""What a user's step function is given: its inputs, its config, and the pipeline's project when it asks."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.pipelines.helpers import folder

import llmloop as ll


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_a_project_parameter_gets_the_pipelines_project(tmp_path: Path, executor: str) -> None:
    work = folder(tmp_path)
    defn = {
        "name": "where",
        "project": "elsewhere",
        "steps": [
            {"name": "asks", "kind": "steps:where", "config": {"tag": "in "}},
            {"name": "told", "kind": "steps:where", "config": {"project": "named"}},
        ],
    }
    run = ll.pipelines.run(work.pipeline(defn), executor=executor)
    assert run.status == "finished", [(s.name, s.error) for s in run.steps]
    assert run.project == "elsewhere"
    assert run.step("asks").outputs == {"value": "in elsewhere"}
    assert run.step("told").outputs == {"value": "named"}  # its config wins over the pipeline's
