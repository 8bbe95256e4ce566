"""Pipeline runs and schedules through both clients: same JSON, same errors; running stays local."""

from __future__ import annotations

from pathlib import Path

from tests.integration.client.conftest import Pair

from llmloop.errors import Conflict, InvalidInput, NotFound, Unavailable
from llmloop.services.pipelines.runner import RunOptions
from llmloop.services.schedules.schemas import ScheduleCreate

COVERED = {
    "pipelines.list",
    "pipelines.get",
    "pipelines.definition",
    "schedules.list",
    "schedules.create",
    "schedules.delete",
}


def _pipeline(tmp_path: Path) -> Path:
    (tmp_path / "plsteps.py").write_text("def seven():\n    return {'value': 7}\n")
    path = tmp_path / "p.yaml"
    path.write_text("name: parity-p\nproject: parity\nsteps:\n  - {name: s, kind: 'plsteps:seven'}\n")
    return path


def test_runs_read_the_same_and_only_run_locally(pair: Pair, tmp_path: Path) -> None:
    path = _pipeline(tmp_path)
    run = pair.local.pipelines.run(path, RunOptions(executor="inline"))
    got = pair.same(lambda c: c.pipelines.get_run(run.id))
    assert got["steps"][0]["outputs"] == {"value": 7}
    assert pair.same(lambda c: c.pipelines.definition(run.id))["name"] == "parity-p"
    listed = pair.same(lambda c: c.pipelines.list_runs(project="parity"))
    assert [r["id"] for r in listed["items"]] == [run.id]
    assert pair.same_error(lambda c: c.pipelines.get_run("0" * 32)) is NotFound
    try:
        pair.remote.pipelines.run(path)
    except Unavailable as e:
        assert "run it on the server's machine" in e.message
    else:
        raise AssertionError("a remote client ran a pipeline")


def test_schedules_through_both_clients(pair: Pair, tmp_path: Path) -> None:
    path = str(_pipeline(tmp_path))
    made = pair.remote.schedules.create(
        ScheduleCreate(name="nightly", project="parity", target=path, cron="0 3 * * *")
    )
    assert made.next_run_at is not None
    listed = pair.same(lambda c: c.schedules.list(project="parity"))
    assert [s["name"] for s in listed["items"]] == ["nightly"]
    again = ScheduleCreate(name="nightly", project="parity", target=path, cron="0 4 * * *")
    assert pair.same_error(lambda c: c.schedules.create(again)) is Conflict
    bad = ScheduleCreate(name="bad", project="parity", target=path, cron="61 * * * *")
    assert pair.same_error(lambda c: c.schedules.create(bad)) is InvalidInput
    pair.remote.schedules.delete("nightly", project="parity")
    assert pair.same(lambda c: c.schedules.list(project="parity"))["items"] == []
    assert pair.same_error(lambda c: c.schedules.delete("nightly", project="parity")) is NotFound
