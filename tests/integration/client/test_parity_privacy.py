"""Retention, purge and erasure through both clients: same JSON, same errors."""

from __future__ import annotations

from typing import Any

from tests.integration.client.conftest import Pair

from llmloop.errors import InvalidInput
from llmloop.services.tracking.schemas import RunCreate

COVERED = {"privacy.get_retention", "privacy.set_retention", "privacy.purge", "privacy.erase"}


def _without_time(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "at"}


def test_retention_set_through_either_client_reads_the_same(pair: Pair) -> None:
    pair.local.runs.create_run(RunCreate(project="kept-local"))
    pair.local.runs.create_run(RunCreate(project="kept-remote"))
    for c in (pair.local, pair.remote):
        project = f"kept-{'remote' if c.remote else 'local'}"
        assert c.privacy.set_retention(project, "runs", 30).days == {"runs": 30}
    for project in ("kept-local", "kept-remote"):
        assert pair.same(lambda c, p=project: c.privacy.get_retention(p))["days"] == {"runs": 30}
    pair.remote.privacy.set_retention("kept-local", "runs", None)
    assert pair.same(lambda c: c.privacy.get_retention("kept-local"))["days"] == {}


def test_purge_and_erase_answer_the_same_through_both_clients(pair: Pair) -> None:
    purged = [_without_time(r) for r in pair.both(lambda c: c.privacy.purge())]
    assert purged[0] == purged[1] and purged[0]["total"] == 0  # the runs are younger than 30 days
    erased = pair.same(lambda c: c.privacy.erase_subject("someone-with-no-data"))
    assert set(erased["removed"].values()) == {0} and "someone" not in str(erased)


def test_bad_input_raises_the_same_class_through_both_clients(pair: Pair) -> None:
    assert pair.same_error(lambda c: c.privacy.set_retention("p", "no-such-kind", 3)) is InvalidInput
    assert pair.same_error(lambda c: c.privacy.set_retention("p", "runs", 0)) is InvalidInput
    assert pair.same_error(lambda c: c.privacy.erase_subject("")) is InvalidInput
    assert pair.same_error(lambda c: c.privacy.get_retention("bad project!")) is InvalidInput
