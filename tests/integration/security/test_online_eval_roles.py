"""Online evaluation over real HTTP by role: a viewer may read but every mutating call is refused with
403 and changes nothing; a member (the editing role) may create, run and delete.

A real ``llmloop serve`` holds the store; the callers are API keys of users with one role in the
project, so the route's coarse check and the service's per-project check are both on the path.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from security_fixtures import *  # noqa: F403  (fixtures and helpers)
from security_fixtures import add_key, add_user
from tests.conftest import serving_llmloop
from tests.integration.monitor.traffic import record

from llmloop.security import audit
from llmloop.services.monitor import online
from llmloop.services.monitor.schemas import OnlineEvaluatorCreate

P = "live-roles"
SPEC = {"name": "json", "project": P, "sample_rate": 1.0, "metrics": [{"kind": "json_valid"}]}
CONFIG = {"online": [{**SPEC, "name": "from-file"}]}


def _calls(now: float) -> list[tuple[str, str, dict[str, Any]]]:
    """Every mutating online-evaluation call: method, path, request keywords."""
    return [
        ("POST", "/api/v1/monitors/online", {"json": {**SPEC, "sample_rate": 0.5}}),
        ("POST", "/api/v1/monitors/apply", {"json": CONFIG}),
        ("POST", "/api/v1/monitors/online/run", {"json": {"project": P, "now": now}}),
        ("POST", "/api/v1/monitors/online/run", {"json": {"project": P, "evaluator": "json", "now": now}}),
        ("DELETE", "/api/v1/monitors/online/json", {"params": {"project": P}}),
    ]


def test_a_viewer_is_refused_every_online_mutation_and_a_member_may_make_them(
    sqlite_ctx: Any, isolated_home: Path
) -> None:
    ctx = sqlite_ctx
    now = time.time()
    trace = record(ctx, project=P, at=now - 30, answer='{"ok": true}')
    online.create_evaluator(ctx, spec=OnlineEvaluatorCreate.model_validate(SPEC))
    add_user(ctx, "vera", {P: "viewer"})
    add_user(ctx, "mel", {P: "member"})
    viewer = {"Authorization": f"Bearer {add_key(ctx, 'vera')}"}
    member = {"Authorization": f"Bearer {add_key(ctx, 'mel')}"}
    events = len(audit.list_events(ctx))

    with serving_llmloop(isolated_home) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        listed = http.get("/api/v1/monitors/online", params={"project": P}, headers=viewer)
        assert listed.status_code == 200 and [e["name"] for e in listed.json()["items"]] == ["json"]
        for method, path, kw in _calls(now):
            got = http.request(method, path, headers=viewer, **kw)
            assert got.status_code == 403, (method, path, got.text)
            assert got.json()["error"]["code"] == "permission_denied"
        # nothing changed: the evaluator as it was, no score, no audit event
        (kept,) = online.list_evaluators(ctx, project=P)
        assert (kept.version, kept.sample_rate) == (1, 1.0)
        assert online.list_scores(ctx, project=P, trace_id=trace) == []
        assert len(audit.list_events(ctx)) == events

        statuses = [http.request(m, p, headers=member, **kw).status_code for m, p, kw in _calls(now)]
        assert statuses == [201, 200, 200, 200, 204]
    assert [e.name for e in online.list_evaluators(ctx, project=P)] == ["from-file"]
    scored = [s.evaluator for s in online.list_scores(ctx, project=P, trace_id=trace)]
    assert scored == ["from-file"]  # "json" was scored too, and its scores went with it
    actions = [e.action for e in audit.list_events(ctx, actor="mel")]
    assert sorted(set(actions)) == ["online_eval.delete", "online_eval.put", "online_eval.scored"]
