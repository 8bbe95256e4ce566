"""The audit chain on SQLite and PostgreSQL: appended by mutations, broken by any raw edit or deletion."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from security_fixtures import *  # noqa: F403  (fixtures and helpers)
from security_fixtures import add_user
from sqlalchemy import text

from llmloop.context import Context
from llmloop.security import audit
from llmloop.security.rbac import Actor
from llmloop.services.tracking import service
from llmloop.services.tracking.schemas import MetricPoint, RunBatch, RunCreate


def _events(ctx: Context, n: int) -> None:
    for i in range(n):
        service.create_run(ctx, spec=RunCreate(project="p", name=f"r{i}"))


def _sql(ctx: Context, stmt: str, **params: Any) -> None:
    with ctx.db.connect() as conn:
        conn.execute(text(stmt), params)


def test_mutations_are_audited_but_metric_batches_are_not(ctx: Context) -> None:
    run = service.create_run(ctx, spec=RunCreate(project="p", name="r"))
    for step in range(3):
        service.log_batch(
            ctx,
            run_id=run.id,
            batch=RunBatch(metrics=[MetricPoint(key="l", value=1, step=step, timestamp=0)]),
        )
    service.end_run(ctx, run_id=run.id)
    events = audit.list_events(ctx)
    assert [e.action for e in events] == ["runs.end", "runs.create"]
    end = events[0]
    assert end.target == f"run:{run.id}" and end.project == "p" and end.actor == "local"
    assert end.before == {"status": "running"} and end.after == {"status": "finished"}
    assert end.prev_hash == events[1].hash
    assert audit.verify_chain(ctx).ok


def test_cli_verify_exit_codes_and_first_bad_row_after_edit(ctx: Context, cli: Any) -> None:
    _events(ctx, 4)
    ok = cli("audit", "verify")
    assert ok.exit_code == 0 and "4 events, chain intact" in ok.stdout
    _sql(ctx, "UPDATE audit_events SET target = 'run:forged' WHERE seq = 2")
    bad = cli("audit", "verify")
    assert bad.exit_code == 1
    assert "row 2" in bad.stdout and "modified" in bad.stdout
    report = cli("audit", "verify", "--json")
    assert report.exit_code == 1 and '"first_bad_seq": 2' in report.stdout


@pytest.mark.parametrize(
    ("tamper", "first_bad", "words"),
    [
        ("DELETE FROM audit_events WHERE seq = 3", 3, "missing"),
        ("DELETE FROM audit_events WHERE seq = 5", 5, "cut from the end"),
        ("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1", 1, "actor"),
        ("UPDATE audit_events SET after = NULL WHERE seq = 4", 4, "modified"),
        ("UPDATE audit_events SET prev_hash = hash WHERE seq = 2", 2, "link"),
        ("UPDATE audit_head SET hash = 'x' WHERE id = 1", 5, "head"),
    ],
)
def test_every_kind_of_tampering_names_the_first_bad_row(
    ctx: Context, tamper: str, first_bad: int, words: str
) -> None:
    _events(ctx, 5)
    assert audit.verify_chain(ctx).ok
    _sql(ctx, tamper)
    report = audit.verify_chain(ctx)
    assert not report.ok
    assert report.first_bad_seq == first_bad
    assert words in (report.reason or "")


def test_rehashing_one_edited_row_still_breaks_the_next_link(ctx: Context) -> None:
    """An attacker who recomputes the edited row's own hash is caught at the row after it."""
    _events(ctx, 3)
    with ctx.db.connect() as conn:
        row = conn.execute(text("SELECT * FROM audit_events WHERE seq = 2")).mappings().one()
        fields = dict(row)
        for k in ("before", "after"):  # raw SQL hands JSON back as text
            fields[k] = json.loads(fields[k]) if isinstance(fields[k], str) else fields[k]
        fields["target"] = "run:forged"
        conn.execute(
            text("UPDATE audit_events SET target = :t, hash = :h WHERE seq = 2"),
            {"t": "run:forged", "h": audit.event_hash(fields)},
        )
    report = audit.verify_chain(ctx)
    assert not report.ok and report.first_bad_seq == 3


def test_concurrent_writers_keep_one_chain(ctx: Context) -> None:
    _events(ctx, 1)  # the project exists first (its creation is not what this test races)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            _events(ctx, 8)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = audit.verify_chain(ctx)
    assert report.ok and report.checked == 33 and report.head_seq == 33


def test_list_filters(ctx: Context, cli: Any) -> None:
    add_user(ctx, "alice", {"p": "member"})
    alice = ctx.as_actor(Actor(id="alice", roles={"p": "member"}, via="test"))
    service.create_run(alice, spec=RunCreate(project="p"))
    service.create_run(ctx, spec=RunCreate(project="q"))
    assert [e.action for e in audit.list_events(ctx, actor="alice")] == ["runs.create"]
    assert audit.list_events(ctx, actor="alice")[0].via == "test"
    assert {e.action for e in audit.list_events(ctx, action="runs.*")} == {"runs.create"}
    assert len(audit.list_events(ctx, action="runs.*")) == 2
    assert [e.project for e in audit.list_events(ctx, project="q")] == ["q"]
    assert audit.list_events(ctx, since=4102444800.0) == []  # year 2100
    out = cli("audit", "list", "--json", "--action", "users.create", "--since", "1h")
    assert out.exit_code == 0 and '"target": "user:alice"' in out.stdout
    assert cli("audit", "list", "--since", "yesterday-ish").exit_code == 2
    with pytest.raises(Exception, match="may not audit:read"):
        audit.list_events(alice)
