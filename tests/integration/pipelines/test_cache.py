"""The step cache keys on content: what changed reruns, what did not is served, and every decision says why.

These run on the inline executor (steps in threads of the test process) to keep them fast; the
local executor (a process per step) runs the same code path in test_resume.py and the docs page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.pipelines.helpers import Work, basic, folder, rows, write_rows

import llmloop as ll
from llmloop.services.pipelines.schemas import PipelineRun


def _run(work: Work, defn: dict[str, Any], **kw: Any) -> tuple[PipelineRun, dict[str, str]]:
    said: dict[str, str] = {}

    def report(step: str, message: str) -> None:
        if message.startswith(("hit", "miss", "off")):
            said[step] = message

    run = ll.pipelines.run(work.pipeline(defn), executor="inline", report=report, **kw)
    assert run.status == "finished", [(s.name, s.error) for s in run.steps]
    return run, said


def _cache(run: PipelineRun) -> dict[str, str | None]:
    return {s.name: s.cache for s in run.steps}


def test_a_second_run_is_served_from_the_cache(tmp_path: Path) -> None:
    work = folder(tmp_path)
    first, said = _run(work, basic())
    assert _cache(first) == dict.fromkeys(["data", "count", "twice", "other"], "miss")
    assert said["count"] == "miss: no finished run of this step with these inputs yet"
    assert first.step("twice").outputs == {"value": "rows: 12"}
    work.reset_calls()
    second, said = _run(work, basic())
    assert _cache(second) == dict.fromkeys(["data", "count", "twice", "other"], "hit")
    assert work.calls() == []  # no step function ran
    assert second.step("twice").outputs == first.step("twice").outputs
    assert said["twice"] == f"hit: same code, config and input content as run {first.step('twice').run_id}"
    for step in second.steps:  # a hit is a tracked run too, a child of the pipeline's run
        run = ll.get_client().runs.get_run(step.run_id or "")
        assert (run.parent_id, run.status, run.params["cache"]) == (second.id, "finished", "hit")


def test_one_changed_row_reruns_its_step_and_whatever_its_new_output_reaches(tmp_path: Path) -> None:
    work = folder(tmp_path)
    _run(work, basic())
    write_rows(work.dir / "rows.jsonl", rows(6, tweak=" (edited)"))
    work.reset_calls()
    run, said = _run(work, basic())
    assert _cache(run) == {"data": "miss", "count": "miss", "twice": "hit", "other": "hit"}
    assert said["data"].startswith("miss: input source changed")
    assert said["count"].startswith("miss: input data changed")
    # the edited rows are still 6 rows: count's outputs are the same content, so twice is served
    assert work.calls() == ["count_rows"]
    write_rows(work.dir / "rows.jsonl", rows(7))
    run, _ = _run(work, basic())
    assert _cache(run) == {"data": "miss", "count": "miss", "twice": "miss", "other": "hit"}
    assert run.step("twice").outputs == {"value": "rows: 14"}


def test_a_changed_config_key_reruns_that_step_and_its_dependents(tmp_path: Path) -> None:
    work = folder(tmp_path)
    _run(work, basic())
    run, said = _run(work, basic(label="examples"))
    assert _cache(run) == {"data": "hit", "count": "miss", "twice": "miss", "other": "hit"}
    assert said["count"] == "miss: config changed: label"
    assert said["twice"].startswith("miss: input label changed")
    assert run.step("twice").outputs == {"value": "examples: 12"}


def test_identical_data_registered_under_a_new_id_is_a_hit(tmp_path: Path) -> None:
    work = folder(tmp_path)
    first, _ = _run(work, basic(dataset="rows"))
    work.reset_calls()
    run, said = _run(work, basic(dataset="copy"))  # the same rows become dataset copy@1: a new id
    assert run.step("data").outputs == {"dataset": "dataset:copy@1"}
    assert _cache(run) == {"data": "miss", "count": "hit", "twice": "hit", "other": "hit"}
    assert said["data"] == "miss: config changed: name"
    assert work.calls() == []
    assert run.step("count").outputs == first.step("count").outputs


def test_no_cache_and_a_step_with_cache_false_run_again(tmp_path: Path) -> None:
    work = folder(tmp_path)
    _run(work, basic())
    run, said = _run(work, basic(), cache=False)
    assert _cache(run) == dict.fromkeys(["data", "count", "twice", "other"], "off")
    assert said["other"] == "off: --no-cache"
    defn = basic()
    defn["steps"][3]["cache"] = False
    work.reset_calls()
    run, said = _run(work, defn)
    assert _cache(run) == {"data": "hit", "count": "hit", "twice": "hit", "other": "off"}
    assert said["other"] == "off: cache: false on this step"
    assert work.calls() == ["constant"]


def test_a_changed_function_source_is_a_miss(tmp_path: Path) -> None:
    work = folder(tmp_path)
    _run(work, basic())
    module = work.dir / f"{work.module}.py"
    module.write_text(module.read_text() + "\n# a comment changes the source hash\n")
    run, said = _run(work, basic())
    assert _cache(run) == {"data": "hit", "count": "miss", "twice": "miss", "other": "miss"}
    assert said["other"].startswith("miss: code changed")


def test_a_changed_helper_beside_the_step_is_a_miss_but_a_lazily_imported_one_is_not(tmp_path: Path) -> None:
    """The code version covers the modules beside the step's that it imports at top level."""
    work = folder(tmp_path)
    (work.dir / "helper_top.py").write_text("LABEL = 'top'\n")
    (work.dir / "helper_lazy.py").write_text("LABEL = 'lazy'\n")
    (work.dir / "uses.py").write_text(
        "import helper_top\n\n\ndef label():\n    import helper_lazy\n\n"
        "    return {'value': helper_top.LABEL + helper_lazy.LABEL}\n"
    )
    defn = {"name": "helpers", "steps": [{"name": "label", "kind": "uses:label"}]}
    first = ll.pipelines.run(work.pipeline(defn), executor="local")
    assert first.step("label").outputs == {"value": "toplazy"}
    (work.dir / "helper_lazy.py").write_text("LABEL = 'LAZY'\n")  # imported inside the function only
    assert ll.pipelines.run(work.pipeline(defn), executor="local").step("label").cache == "hit"
    (work.dir / "helper_top.py").write_text("LABEL = 'TOP'\n")
    again = ll.pipelines.run(work.pipeline(defn), executor="local")
    step = again.step("label")
    assert step.cache == "miss" and step.reason.startswith("miss: code changed")
    assert step.outputs == {"value": "TOPLAZY"}


def test_steps_record_lineage_from_inputs_to_outputs(tmp_path: Path, ctx: Any) -> None:
    from llmloop.store.lineage import edges_of

    work = folder(tmp_path)
    run, _ = _run(work, basic())
    data_run = run.step("data").run_id
    count_run = run.step("count").run_id
    version = ll.get_client().datasets.get_version("rows@1")
    with ctx.db.session() as s:
        produced = {(e.relation, e.dst_type, e.dst_id) for e in edges_of(s, "run", data_run or "")}
        read = {(e.src_type, e.src_id, e.relation) for e in edges_of(s, "run", count_run or "")}
    assert ("produced", "dataset_version", version.id) in produced
    assert ("dataset_version", version.id, "input") in read
