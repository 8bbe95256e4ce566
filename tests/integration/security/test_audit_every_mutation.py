"""Every mutation through every door leaves an audit event (issue 14, class 5).

Two halves. The structural guard (``llmloop.security.audit``: a commit that wrote an audited
table without an audit event is refused) is tested directly, including by raw SQL that no
service wrote. Then every non-GET route of the client's route table is called as an admin
with a valid body, and each that answers 2xx must have moved the audit chain's head, and the
chain must verify afterwards. A route that changes nothing is listed in ``READS`` with why.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from security_fixtures import *  # noqa: F403  (fixtures and helpers)
from security_fixtures import PROJECT, add_key, add_user
from sqlalchemy import insert, select, text
from test_existence_oracles import _request
from test_route_matrix import SEEDED, _seed

from llmloop.client.table import table
from llmloop.context import Context
from llmloop.security import audit, users, vault
from llmloop.security.audit import UnauditedMutation
from llmloop.server.api.prompts import set_model_resolver
from llmloop.server.app import create_app
from llmloop.server.auth import api_routes
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import RunCreate
from llmloop.store.tables.deployments import DeploymentRow
from llmloop.store.tables.security import AuditHeadRow

# non-GET routes that change nothing anyone must answer for: searches and computations sent as
# POST for their bodies, checks, and the login/logout of a UI session
READS = {
    "runs.search": "a search",
    "evaluations.compare": "a computation over stored evaluations",
    "evaluations.gate": "a verdict over stored evaluations",
    "prompts.render": "renders a template",
    "feedback.export": "returns rows (an export into a dataset is audited as datasets.add)",
    "store.verify": "a check",
    "audit.verify": "a check",
    "users.login": "opens a UI session",
    "users.logout": "closes a UI session",
    "monitors.drift": "a computation over the texts sent",
    "triggers.dry_run": "says what a trigger would do, and does nothing",
}
# writes that are a run's own logging or a model call, not changes to what people share: they touch
# no audited table (creating and ending the run are audited; a call is recorded as its trace)
LOGGING = {
    "runs.log_batch": "a run's metrics, params and tags (ending it is audited: runs.end)",
    "runs.upload_artifact": "a file logged by a run",
    "runs.hold": "a liveness lease of a running run (its end, killed or not, is audited)",
    "prompts.run": "a model call, recorded as a trace",
    "monitors.run": "a monitor pass's results and alerts: scheduled work, not a change people make",
}
# calls that change nothing on the walk's seed (the guard refuses them if they ever write unaudited)
NO_CHANGE_HERE = {
    "datasets.dedup": "the seeded version has no duplicates: it is returned as it is",
    "datasets.redact": "the seeded version holds no PII: it is returned as it is",
    "privacy.purge": "no retention policy is set, so nothing is deleted",
    "monitors.apply": "the walk's empty file holds no monitor, rule or trigger",
    "monitors.online_run": "the seeded trace (from 1970) is older than any lookback, so nothing is scored "
    "(a pass that scores is audited as online_eval.scored: test_online_eval)",
}
# mutations this walk cannot make with a generic body, with where they are audited instead
NOT_WALKED = {
    "users.bootstrap_admin": "refused once a user exists; audited as users.create (test_identities)",
    "privacy.erase": "audited as privacy.erase (test_privacy)",
    "datasets.import": "needs a server import root; stored by the same versions.add as datasets.upload",
    "evaluations.gate_suite": "runs a suite, audited as evaluations.create like the seed's run_suite",
    "monitors.online_create": "needs a spec with metrics; audited as online_eval.put (test_online_eval)",
}
SKIPPED = {**READS, **LOGGING, **NO_CHANGE_HERE, **NOT_WALKED}


def _head(ctx: Context) -> int:
    with ctx.db.session() as s:
        return int(s.scalar(select(AuditHeadRow.seq)) or 0)


def test_a_commit_that_changes_an_audited_table_without_an_event_is_refused(ctx: Context) -> None:
    before = _head(ctx)
    with pytest.raises(UnauditedMutation, match="INSERT deployments"), ctx.db.session() as s:
        s.execute(insert(DeploymentRow).values(id=uuid.uuid4().hex, project_id=_pid(ctx), name="sneaky"))
    with ctx.db.session() as s:  # nothing was stored
        assert s.scalar(select(DeploymentRow.id).where(DeploymentRow.name == "sneaky")) is None
    with pytest.raises(UnauditedMutation, match="UPDATE users"), ctx.db.connect() as conn:
        conn.execute(text("UPDATE users SET kind = 'user'"))  # raw SQL through the Core door
    assert _head(ctx) == before
    with ctx.db.session() as s:  # the same write with its event commits
        s.execute(insert(DeploymentRow).values(id=uuid.uuid4().hex, project_id=_pid(ctx), name="ok"))
        audit.record(s, ctx, "deployments.create", "deployment:ok", project=PROJECT)
    assert _head(ctx) == before + 1


def _pid(ctx: Context) -> str:
    from llmloop.store.projects import project_id

    with ctx.db.session() as s:
        return project_id(s, PROJECT, create=True)


def test_every_mutating_route_leaves_an_audit_event(ctx: Context, tmp_path: Path, master_key: str) -> None:
    add_user(ctx, "root", {"*": "admin"})
    add_user(ctx, "target", {PROJECT: "viewer"})
    users.set_password(ctx, user="target", password="correct horse")
    headers = {"Authorization": f"Bearer {add_key(ctx, 'root')}"}
    vault.set_secret(ctx, project=PROJECT, name="openai", value="sk-walk")
    values = {**_seed(ctx, tmp_path), "name": SEEDED, "project": PROJECT, "alias": "staging"}
    values["run_id"] = tracking.create_run(ctx, spec=RunCreate(project=PROJECT)).id
    app = create_app(ctx)
    set_model_resolver(app, lambda model, project: lambda messages, **params: "a canned answer")
    client = TestClient(app)
    by_name = {r.name: r for r in api_routes(app)}
    missing: list[str] = []
    walked = 0
    for name, route in sorted(table().items()):
        if route.method == "GET" or name in SKIPPED:
            continue
        path_values = dict(values)
        if name == "keys.revoke":
            path_values["key"] = add_key(ctx, "target")[:12]
        if name.startswith("users.") or name.startswith("secrets."):
            path_values["name"] = "target" if name.startswith("users.") else "openai"
        before = _head(ctx)
        resp = _request(client, by_name[name], route.method, path_values, headers)
        walked += 1
        if resp.status_code >= 300:
            missing.append(f"{name}: the walk's request failed ({resp.status_code} {resp.text[:160]})")
        elif _head(ctx) <= before:
            missing.append(
                f"{name}: {route.method} {route.path} answered {resp.status_code} and left no audit event"
            )
    assert not missing, "\n".join(missing)
    assert walked >= 20
    assert audit.verify_chain(ctx).ok
