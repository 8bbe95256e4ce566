"""Retention and erasure through the handler registry; an erased id is nowhere in the store afterwards."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from security_fixtures import *  # noqa: F403  (fixtures and helpers)
from sqlalchemy import inspect, text

from llmloop.context import Context
from llmloop.errors import InvalidInput
from llmloop.security import audit
from llmloop.security.rbac import Actor
from llmloop.services.privacy import registry, service
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import MetricPoint, RunBatch, RunCreate

DAY = 86400.0


def _run(ctx: Context, project: str, *, ended_days_ago: float | None = None, **kw: Any) -> str:
    rid = tracking.create_run(ctx, spec=RunCreate(project=project, **kw)).id
    if ended_days_ago is not None:
        tracking.end_run(ctx, run_id=rid)
        with ctx.db.connect() as conn:
            conn.execute(
                text("UPDATE runs SET end_time = :t WHERE id = :i"),
                {"t": time.time() - ended_days_ago * DAY, "i": rid},
            )
    return rid


def test_purge_deletes_only_what_retention_allows(ctx: Context, cli: Any) -> None:
    old = _run(ctx, "p", ended_days_ago=40)
    recent = _run(ctx, "p", ended_days_ago=5)
    running = _run(ctx, "p")
    elsewhere = _run(ctx, "q", ended_days_ago=400)
    with ctx.db.connect() as conn:
        conn.execute(text("UPDATE runs SET start_time = 0 WHERE id = :i"), {"i": running})
    assert cli("privacy", "retention", "set", "-p", "p", "--kind", "runs", "--days", "30").exit_code == 0
    shown = json.loads(cli("privacy", "retention", "show", "-p", "p", "--json").stdout)
    assert shown == {"project": "p", "days": {"runs": 30}}
    res = cli("privacy", "purge", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["deleted"] == {"p": {"runs": 1}}
    left = {r.id for r in tracking.search_runs(ctx, query=tracking.RunSearch()).items}
    assert left == {recent, running, elsewhere} and old not in left
    assert [e.action for e in audit.list_events(ctx, action="privacy.*")] == [
        "privacy.purge",
        "privacy.retention",
    ]
    bad = cli("privacy", "retention", "set", "-p", "p", "--kind", "weather", "--days", "3")
    assert bad.exit_code == 2 and "known kinds: feedback, runs, traces" in bad.stderr
    assert cli("privacy", "retention", "set", "-p", "p", "--kind", "runs", "--forever").exit_code == 0
    assert service.get_retention(ctx, project="p").days == {}


def _all_text(ctx: Context) -> str:
    """Every value of every table, as text: the "search the store" of the erasure test."""
    names = inspect(ctx.db.engine).get_table_names()
    out: list[str] = []
    with ctx.db.connect() as conn:
        for table in names:
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                out.append(
                    " ".join(bytes(v).hex() if isinstance(v, (bytes, memoryview)) else str(v) for v in row)
                )
    return "\n".join(out)


def test_erase_leaves_no_trace_of_the_user_id(ctx: Context, cli: Any) -> None:
    subject = "alice-7f3c@example.org"
    alice = ctx.as_actor(Actor(id=subject, roles={"p": "member"}, via="http 10.0.0.7"))
    mine = tracking.create_run(alice, spec=RunCreate(project="p", params={"lr": 0.1}))
    tracking.log_batch(
        alice, run_id=mine.id, batch=RunBatch(metrics=[MetricPoint(key="loss", value=1, step=0, timestamp=0)])
    )
    tracking.end_run(alice, run_id=mine.id)
    child = tracking.create_run(ctx, spec=RunCreate(project="p", parent_id=mine.id))
    shared = _run(ctx, "p", tags={"requested_by": subject, "stage": "eval"})
    assert subject in _all_text(ctx)
    res = cli("privacy", "erase", "--user-id", subject, "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["removed"]["runs"] == 2 and report["audit_events_anonymised"] == 2
    assert subject not in res.stdout
    assert subject not in _all_text(ctx)
    assert tracking.get_run(ctx, run_id=shared).tags == {"stage": "eval"}
    assert tracking.get_run(ctx, run_id=child.id).parent_id is None
    assert audit.verify_chain(ctx).ok  # anonymising the actor does not break the chain


def test_later_areas_plug_in_through_the_registry(ctx: Context) -> None:
    seen: list[tuple[str, str]] = []

    def erase(c: Context, session: Any, subject: str) -> int:
        seen.append(("erase", subject))
        return 3

    def purge(c: Context, session: Any, project_id: str, cutoff: float) -> int:
        seen.append(("purge", project_id))
        return 0

    registry.register(registry.Handler(kind="weather", description="test", purge=purge, erase=erase))
    try:
        assert service.erase_subject(ctx, subject="bob").removed["weather"] == 3
        service.set_retention(ctx, project="p", kind="weather", days=7)
        service.purge(ctx)
        assert [k for k, _ in seen] == ["erase", "purge"]
    finally:
        registry.unregister("weather")
    with pytest.raises(InvalidInput):
        service.erase_subject(ctx, subject="")
    with pytest.raises(Exception, match="privacy:admin"):
        service.purge(ctx.as_actor(Actor(id="m", roles={"p": "maintainer"})))
