"""Every route of ``create_app()`` by every kind of caller: allowed or denied as its declaration says.

Routes added later by other areas are walked too: each must declare ``x-llmloop-permission``
(the first test fails otherwise) and is then exercised with placeholder parameters. Known
routes get real examples so "allowed" means a 2xx, not just "not 401/403".
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from security_fixtures import *  # noqa: F403  (fixtures and helpers)
from security_fixtures import PROJECT, Team, add_key, add_user

from llmloop.client.table import table
from llmloop.context import Context
from llmloop.security import users
from llmloop.security.rbac import AUTHENTICATED, PERMISSIONS, PUBLIC, RANK
from llmloop.server.api.prompts import set_model_resolver
from llmloop.server.app import create_app
from llmloop.server.auth import PERMISSION_KEY, api_routes, authorize
from llmloop.services.data import service as data_service
from llmloop.services.data.schemas import DatasetAdd
from llmloop.services.evaluate import service as eval_service
from llmloop.services.evaluate.suite import load_suite
from llmloop.services.monitor import alerts as monitor_alerts
from llmloop.services.monitor import online as monitor_online
from llmloop.services.monitor import service as monitor_service
from llmloop.services.monitor import triggers as monitor_triggers
from llmloop.services.monitor.schemas import (
    AlertRuleCreate,
    MonitorCreate,
    OnlineEvaluatorCreate,
    TriggerCreate,
)
from llmloop.services.observe import service as trace_service
from llmloop.services.observe.schemas import SpanRecord
from llmloop.services.pipelines import service as pipelines_service
from llmloop.services.pipelines.definition import parse_definition
from llmloop.services.prompts import service as prompts_service
from llmloop.services.prompts.schemas import PromptCreate
from llmloop.services.registry import service as models_service
from llmloop.services.registry.schemas import ModelVersionCreate
from llmloop.services.schedules import service as schedules_service
from llmloop.services.schedules.schemas import ScheduleCreate
from llmloop.services.serve import service as deploy_service
from llmloop.services.serve.schemas import DeploymentCreate, DeploymentSpec, TargetSpec
from llmloop.services.tracking import service
from llmloop.services.tracking.schemas import RunCreate

CALLERS = ("nokey", "gateway", "viewer", "readonly", "member", "maintainer", "admin")
LEVEL = {
    "viewer": "viewer",
    "readonly": "viewer",
    "member": "member",
    "maintainer": "maintainer",
    "admin": "admin",
}
# rules the service adds on top of the route declaration
SERVICE_DENIES = {("keys.create", "readonly")} | {
    ("users.set_password", caller) for caller in ("viewer", "readonly", "member", "maintainer")
}  # another user's password
Body = Callable[[], dict[str, Any]]
EXAMPLES: dict[str, Body | bytes] = {
    "runs.create": lambda: {"project": PROJECT},
    "runs.search": lambda: {"project": PROJECT},
    "runs.log_batch": lambda: {"tags": {"t": "1"}},
    "runs.upload_artifact": b"artifact bytes",
    "users.create": lambda: {
        "name": f"u{uuid.uuid4().hex[:8]}",
        "roles": [{"project": PROJECT, "role": "viewer"}],
    },
    "users.grant": lambda: {"role": "viewer"},
    "users.set_password": lambda: {"password": "correct horse"},  # the one users.login uses
    "keys.create": lambda: {"name": "matrix"},
    "users.login": lambda: {"username": "target", "password": "correct horse"},
    "secrets.set": lambda: {"value": "sk-matrix"},
    "privacy.set_retention": lambda: {"kind": "runs", "days": 30},
    "privacy.erase": lambda: {"user_id": "nobody-at-all"},
    "prompts.create": lambda: {
        "project": PROJECT,
        "name": "y",
        "template": "hi {{ who }}",
        "variables": {"who": {"type": "string"}},
    },
    "prompts.render": lambda: {"project": PROJECT, "variables": {"who": "you"}},
    "prompts.run": lambda: {"project": PROJECT, "variables": {"who": "you"}},
    "deployments.rollback": lambda: {"project": PROJECT},
    "datasets.upload": b'{"text": "matrix row"}\n',
    "models.register": lambda: {"base": "org/matrix-model"},
    "models.promote": lambda: {"version": "1", "reason": "matrix"},
    "schedules.create": lambda: {
        "name": f"s{uuid.uuid4().hex[:8]}",
        "project": PROJECT,
        "target": "/nowhere/pipeline.yaml",
        "cron": "0 3 * * *",
    },
    "monitors.drift": lambda: {
        "reference": ["a", "bb", "ccc", "dddd", "eeeee"],
        "current": ["f"] * 5,
        "method": "length",
    },
    "monitors.create": lambda: {"project": PROJECT, "name": "y", "metric": "error_rate"},
    "monitors.run": lambda: {"project": PROJECT},
    "alerts.create_rule": lambda: {"project": PROJECT, "name": "y", "monitor": SEEDED, "above": 1},
    "alerts.silence": lambda: {"project": PROJECT, "for_s": 60},
    "triggers.create": lambda: {
        "project": PROJECT,
        "name": "y",
        "pipeline": "p.yaml",
        "when": {"every_s": 60},
    },
    "triggers.dry_run": lambda: {"project": PROJECT},
    "triggers.fire": lambda: {"project": PROJECT},
}
# Keys above are route-table names ("runs.create"): every /api/v1 route is mounted from the table.


def _op(route: Any) -> str:
    return str(route.name) if route.name in table() else str(route.unique_id)  # /v1 and health


# the path value every area's seeded object is reached by (see _seed)
SEEDED = "x"
# allowed calls that may legitimately find nothing (someone else's key, an already revoked role)
MAY_BE_ABSENT = {"keys.revoke", "users.revoke", "secrets.delete", "gateway-get_model"}


def _routes(app: Any) -> list[Any]:
    return api_routes(app)


def _declared(route: Any) -> str:
    return str((route.openapi_extra or {}).get(PERMISSION_KEY))


def test_every_route_declares_a_known_permission_and_runs_authorize(ctx: Context) -> None:
    app = create_app(ctx)
    routes = _routes(app)
    assert len(routes) >= 20
    missing = [
        f"{sorted(r.methods)} {r.path}" for r in routes if PERMISSION_KEY not in (r.openapi_extra or {})
    ]
    assert not missing, f"routes without openapi_extra=permission(...): {missing}"
    for r in routes:
        assert _declared(r) in PERMISSIONS or _declared(r) in (PUBLIC, AUTHENTICATED), r.path
        assert any(d.call is authorize for d in r.dependant.dependencies), f"{r.path} does not run authorize"
    schema = app.openapi()
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            assert PERMISSION_KEY in op, f"{method} {path} has no {PERMISSION_KEY} in OpenAPI"


def _expected(permission: str, caller: str, op: str) -> str:
    if permission == PUBLIC:
        return "allow"
    if caller == "nokey":
        return "401"
    if caller == "gateway":
        return "allow" if permission == "deployments:invoke" else "403"
    if (op, caller) in SERVICE_DENIES:
        return "403"
    if permission == AUTHENTICATED:
        return "allow"
    return "allow" if RANK[LEVEL[caller]] >= RANK[PERMISSIONS[permission]] else "403"


def _fill(path: str, values: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1).split(":")[0]
        if name == "name":
            if path.startswith("/api/v1/users"):
                return "target"
            if path.startswith("/api/v1/secrets"):
                return "openai"
            if path.startswith("/api/v1/runs"):
                return "a.txt"
            return SEEDED
        return values.get(name, "x")

    return re.sub(r"\{([^}]+)\}", one, path)


def _seed(ctx: Context, tmp_path: Path, project: str = PROJECT) -> dict[str, str]:
    """One object per area in ``project`` (named SEEDED, two versions where versioned); returns path values."""
    (tmp_path / "qa.jsonl").write_text('{"input": "2+2?", "reference": "4"}\n')
    (tmp_path / "suite.yaml").write_text("name: qa\ndataset: {path: qa.jsonl}\nmetrics: [exact_match]\n")
    evaluation, candidate = (
        eval_service.run_suite(
            ctx,
            suite=load_suite(tmp_path / "suite.yaml"),
            model=lambda batch, a=answer, **p: [a] * len(batch),
            project=project,
        )
        for answer in ("4", "5")
    )
    for text in ("hi {{ who }}", "hello {{ who }}"):
        prompts_service.create_prompt_version(
            ctx,
            spec=PromptCreate(
                project=project, name=SEEDED, template=text, variables={"who": {"type": "string"}}
            ),
        )
    prompts_service.set_prompt_alias(ctx, project=project, name=SEEDED, alias="staging", version=1)
    for model in ("m1", "m2"):
        deploy_service.create_deployment(
            ctx,
            spec=DeploymentCreate(
                name=SEEDED,
                project=project,
                spec=DeploymentSpec(targets=[TargetSpec(model=model, upstream="http://127.0.0.1:9/v1")]),
            ),
        )
    trace_id = uuid.uuid4().hex
    span = SpanRecord(
        trace_id=trace_id, span_id=trace_id[:16], project=project, name="seed", start_time=1.0, end_time=2.0
    )
    trace_service.record_spans(ctx, spans=[span])
    for i in (1, 2):
        (tmp_path / f"rows{i}.jsonl").write_text("".join(f'{{"text": "row {j}"}}\n' for j in range(i)))
        data_service.add_version(
            ctx, spec=DatasetAdd(name=SEEDED, project=project, path=str(tmp_path / f"rows{i}.jsonl"))
        )
    data_service.alias_version(ctx, ref=f"{SEEDED}@1", alias=SEEDED, project=project)
    for hub_id in ("org/seed-1", "org/seed-2"):
        models_service.register_model_version(
            ctx, spec=ModelVersionCreate(project=project, name=SEEDED, base=hub_id)
        )
    models_service.promote_model(ctx, ref=f"{SEEDED}@1", alias=SEEDED, project=project)
    schedules_service.create_schedule(
        ctx, spec=ScheduleCreate(name=SEEDED, project=project, target="/nowhere/p.yaml", cron="0 3 * * *")
    )
    pipeline = pipelines_service.start_pipeline_run(
        ctx,
        defn=parse_definition({"name": SEEDED, "steps": [{"name": "s", "kind": "m:f"}]}),
        project=project,
        executor="local",
    )
    monitor_service.create_monitor(ctx, spec=MonitorCreate(name=SEEDED, project=project, metric="error_rate"))
    monitor_alerts.create_rule(
        ctx, spec=AlertRuleCreate(name=SEEDED, project=project, monitor=SEEDED, above=-1)
    )
    monitor_triggers.create_trigger(
        ctx,
        spec=TriggerCreate.model_validate(
            {"name": SEEDED, "project": project, "pipeline": "turn2.yaml", "when": {"every_s": 60}}
        ),
    )
    monitor_online.create_evaluator(
        ctx,
        spec=OnlineEvaluatorCreate.model_validate(
            {"name": SEEDED, "project": project, "sample_rate": 1.0, "metrics": [{"kind": "json_valid"}]}
        ),
    )
    alert = monitor_service.run_monitors(ctx, project=project, now=2.0).fired[0]  # the seeded trace's window
    return {
        "evaluation_id": evaluation.id,
        "candidate_id": candidate.id,
        "trace_id": trace_id,
        "pipeline_run_id": pipeline.id,
        "alert_id": alert.id,
    }


def _query(path: str) -> dict[str, str]:
    """Every route is asked about PROJECT; routes without a ``project`` parameter ignore it."""
    query = {"project": PROJECT}
    if path.endswith("/diff"):
        query.update({"from": "1", "to": "2"})
    if path.startswith("/api/v1/datasets/"):
        if path.endswith(("/diff", "/leakage")):
            query.update({"a": "1", "b": "2"})
        if path.endswith("/versions"):
            query["filename"] = "matrix.jsonl"
    return query


def test_route_by_caller_matrix(ctx: Context, team: Team, master_key: str, tmp_path: Path) -> None:
    run = service.create_run(ctx, spec=RunCreate(project=PROJECT)).id
    ctx.artifacts.put_bytes(b"a")
    service.record_artifact(
        ctx, run_id=run, name="a.txt", sha256=ctx.artifacts.put_bytes(b"a").sha256, size=1
    )
    add_user(ctx, "target", {PROJECT: "viewer"})
    add_user(ctx, "keyowner", {PROJECT: "viewer"})
    users.set_password(ctx, user="target", password="correct horse")
    values = {"run_id": run, "key": "loss", "project": PROJECT, "ref": SEEDED, "alias": "staging"}
    values.update(_seed(ctx, tmp_path))
    app = create_app(ctx)
    set_model_resolver(app, lambda model, project: lambda messages, **params: "a canned answer")
    client = TestClient(app)
    failures: list[str] = []
    checked = 0
    for route in _routes(app):
        permission = _declared(route)
        op = _op(route)
        for method in sorted(route.methods - {"HEAD"}):
            for caller in CALLERS:
                path_values = dict(values)
                if route.path.startswith("/api/v1/keys/"):
                    path_values["key"] = add_key(ctx, "keyowner")[:12]
                url = _fill(route.path, path_values)
                example = EXAMPLES.get(op)
                kwargs: dict[str, Any] = {"headers": team.headers(caller), "params": _query(route.path)}
                if isinstance(example, bytes):
                    kwargs["content"] = example
                    kwargs["headers"]["content-type"] = "application/octet-stream"
                elif example is not None:
                    kwargs["json"] = example()
                elif method in ("POST", "PUT", "PATCH"):
                    kwargs["json"] = {}
                client.cookies.clear()
                resp = client.request(method, url, **kwargs)
                checked += 1
                want = _expected(permission, caller, op)
                got = resp.status_code
                if want == "401":
                    ok = got == 401
                elif want == "403":
                    ok = got in (403, 404)
                else:
                    ok = got not in (401, 403) and got < 500
                    if op in EXAMPLES or method == "GET":
                        ok = ok and (got < 400 or (op in MAY_BE_ABSENT and got == 404))
                if not ok:
                    failures.append(
                        f"{method} {route.path} [{permission}] as {caller}: want {want}, got {got} {resp.text[:120]}"
                    )
    assert not failures, "\n".join(failures)
    assert checked >= 20 * len(CALLERS)
