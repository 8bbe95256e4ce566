"""Online evaluation through both clients over one store: same JSON, same errors."""

from __future__ import annotations

import time

from tests.integration.client.conftest import Pair
from tests.integration.monitor.traffic import record

from llmloop.errors import InvalidInput, NotFound
from llmloop.services.monitor.schemas import OnlineEvaluatorCreate, OnlineRunRequest

COVERED = {
    "monitors.online_create",
    "monitors.online_delete",
    "monitors.online_list",
    "monitors.online_run",
    "monitors.online_scores",
}
P = "ponline"


def _spec(name: str, **over: object) -> OnlineEvaluatorCreate:
    body = {"name": name, "project": P, "sample_rate": 1.0, "metrics": [{"kind": "json_valid"}], **over}
    return OnlineEvaluatorCreate.model_validate(body)


def test_online_evaluators_runs_and_scores_read_the_same(pair: Pair) -> None:
    now = time.time()
    trace = record(pair.local.ctx, project=P, at=now - 10, answer='{"ok": true}')
    made = pair.both(lambda c: c.monitoring.create_online(_spec(f"json-{c.remote}")))
    assert [m["version"] for m in made] == [1, 1]
    listed = pair.same(lambda c: c.monitoring.list_online(P))
    assert [e["name"] for e in listed] == ["json-False", "json-True"]
    first = pair.remote.monitoring.run_online(OnlineRunRequest(project=P, now=now))
    assert [p.scored for p in first.passes] == [{"json_valid": 1}, {"json_valid": 1}]
    again = pair.same(lambda c: c.monitoring.run_online(OnlineRunRequest(project=P, now=now)))
    assert [p["scored"] for p in again["passes"]] == [{"json_valid": 0}, {"json_valid": 0}]
    scores = pair.same(lambda c: c.monitoring.online_scores(P, trace))
    assert [(s["evaluator"], s["score"]) for s in scores] == [("json-False", 1.0), ("json-True", 1.0)]
    bad = _spec("bad", metrics=[{"kind": "task", "metric": "no_such_metric"}])
    assert pair.same_error(lambda c: c.monitoring.create_online(bad)) is InvalidInput
    absent = OnlineRunRequest(project=P, evaluator="absent")
    assert pair.same_error(lambda c: c.monitoring.run_online(absent)) is NotFound


def test_an_evaluator_deleted_through_either_client_is_gone_for_both(pair: Pair) -> None:
    for c in (pair.local, pair.remote):
        c.monitoring.create_online(_spec(f"gone-{c.remote}", project="pdelete"))
    for c in (pair.local, pair.remote):
        assert (
            c.monitoring.delete_online("pdelete", f"gone-{not c.remote}") is None
        )  # each deletes the other's
    assert pair.same(lambda c: c.monitoring.list_online("pdelete")) == []
    assert pair.same_error(lambda c: c.monitoring.delete_online("pdelete", "gone-True")) is NotFound
    assert pair.same_error(lambda c: c.monitoring.delete_online("no-such-project", "x")) is NotFound
