"""The audit log through both clients: the same events, the same verdict on the chain."""

from __future__ import annotations

from sqlalchemy import update
from tests.integration.client.conftest import Pair

from llmloop.errors import InvalidInput
from llmloop.store.tables.security import AuditEventRow

COVERED = {"audit.list", "audit.verify"}


def test_events_and_verdict_read_the_same_through_both_clients(pair: Pair) -> None:
    for c, days in ((pair.local, 7), (pair.remote, 9)):
        c.privacy.set_retention("audited", "runs", days)  # one audited mutation each
    events = pair.same(lambda c: c.audit.list_events(action="privacy.*", project="audited"))
    assert [e["after"] for e in events] == [{"runs": 9}, {"runs": 7}]  # newest first
    assert [e["via"] for e in events][1] == "local" and events[0]["via"].startswith("http ")
    since = events[0]["ts"]
    assert len(pair.same(lambda c: c.audit.list_events(since=since, limit=1))) == 1
    report = pair.same(lambda c: c.audit.verify_chain())
    assert report["ok"] and report["head_seq"] == events[0]["seq"]
    with pair.local.ctx.db.session() as s:  # tamper with the older row behind the services' back
        s.execute(
            update(AuditEventRow).where(AuditEventRow.seq == events[1]["seq"]).values(after={"runs": 1})
        )
    broken = pair.same(lambda c: c.audit.verify_chain())
    assert not broken["ok"] and broken["first_bad_seq"] == events[1]["seq"]


def test_bad_input_raises_the_same_class_through_both_clients(pair: Pair) -> None:
    assert pair.same_error(lambda c: c.audit.list_events(limit=0)) is InvalidInput
    assert pair.same_error(lambda c: c.audit.list_events(limit=10001)) is InvalidInput
