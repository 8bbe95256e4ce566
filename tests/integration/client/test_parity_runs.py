"""Runs through both clients: same JSON, same errors."""

from __future__ import annotations

from pathlib import Path

from tests.integration.client.conftest import Pair

from llmloop.errors import InvalidInput, NotFound
from llmloop.services.tracking.schemas import RunBatch, RunCreate, RunSearch

COVERED = {
    "runs.create",
    "runs.list",
    "runs.search",
    "runs.get",
    "runs.log_batch",
    "runs.metric_history",
    "runs.upload_artifact",
    "runs.download_artifact",
    "runs.hold",
}


def test_runs_read_the_same_through_both_clients(pair: Pair, tmp_path: Path) -> None:
    made = [c.runs.create_run(RunCreate(project="parity", name=f"r-{i}", params={"lr": 0.1 * (i + 1)}))
            for i, c in enumerate((pair.local, pair.remote))]  # fmt: skip
    for run in made:
        batch = RunBatch(points=[("loss", 1.0 / (s + 1), s, 1.0e9 + s) for s in range(3)])
        pair.local.runs.log_batch(run.id, batch) if run.name == "r-0" else pair.remote.runs.log_batch(
            run.id, batch
        )
    for run_id in [r.id for r in made]:
        pair.same(lambda c, run_id=run_id: c.runs.get_run(run_id))
        history = pair.same(lambda c, run_id=run_id: c.runs.metric_history(run_id, "loss"))
        assert [p["step"] for p in history] == [0, 1, 2]
    page = pair.same(lambda c: c.runs.search_runs(RunSearch(project="parity", order_by=["name ASC"])))
    assert [r["name"] for r in page["items"]] == ["r-0", "r-1"]
    page = pair.same(lambda c: c.runs.list_runs(project="parity", order_by=["name DESC"], limit=1))
    assert [r["name"] for r in page["items"]] == ["r-1"] and page["next_page_token"]


def test_artifacts_round_trip_through_both_clients(pair: Pair, tmp_path: Path) -> None:
    run = pair.local.runs.create_run(RunCreate(project="parity", name="art"))
    src = tmp_path / "notes.txt"
    src.write_text("same bytes either way")
    a, b = pair.both(
        lambda c: c.runs.log_artifact(run.id, src, f"docs/{'remote' if c.remote else 'local'}.txt")
    )
    assert a["sha256"] == b["sha256"] and a["size"] == b["size"]
    for client in (pair.local, pair.remote):
        for name in ("docs/local.txt", "docs/remote.txt"):
            out = client.runs.download_artifact(run.id, name, tmp_path / f"{client.remote}-{Path(name).name}")
            assert out.read_text() == "same bytes either way"


def test_bad_input_raises_the_same_class_through_both_clients(pair: Pair, tmp_path: Path) -> None:
    assert pair.same_error(lambda c: c.runs.get_run("no-such-run")) is NotFound
    assert (
        pair.same_error(lambda c: c.runs.search_runs(RunSearch(filter="metrics.loss <<< 1"))) is InvalidInput
    )
    assert pair.same_error(lambda c: c.runs.metric_history("no-such-run", "loss")) is NotFound


def test_a_held_run_ends_as_its_client_says_through_both_clients(pair: Pair) -> None:
    """Holding only ties the run to the process; ending and releasing it leaves the status given."""
    for client, status in ((pair.local, "finished"), (pair.remote, "failed")):
        run = client.runs.create_run(RunCreate(project="parity", name=f"held-{status}"))
        hold = client.runs.hold(run.id)
        client.runs.log_batch(run.id, RunBatch(end_status=status))
        hold.release()
        assert pair.same(lambda c, rid=run.id: c.runs.get_run(rid).status) == status
