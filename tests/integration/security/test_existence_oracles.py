"""Another project's objects are indistinguishable from absent ones, on every route (issue 14, class 4).

The caller is a maintainer of ``p`` with no role in ``q``. For every route of ``create_app()``
(the OpenAPI schema) three requests are made: (a) naming ``q``'s real objects (the route
matrix's seed, plus a run and a trace), (b) naming absent objects in ``q``, (c) naming the
same names in a project that does not exist. The statuses must be equal and the bodies equal
once the names and ids the caller sent are replaced by placeholders: no status, error code,
``details`` key or message may tell them apart. A mutation answered 2xx in (a) would also
fail here: it means the caller wrote into ``q``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from security_fixtures import *  # noqa: F403  (fixtures and helpers)
from security_fixtures import PROJECT, add_key, add_user
from test_route_matrix import EXAMPLES, SEEDED, _op, _query, _seed

from llmloop.context import Context
from llmloop.server.api.prompts import set_model_resolver
from llmloop.server.app import create_app
from llmloop.server.auth import api_routes
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import RunCreate

OTHER = "q-other"
NOWHERE = "zz-no-such-project"
# valid bodies, so that each route reaches its object (a body the schema refuses proves nothing);
# ``v`` holds the names and ids of the request being made
BODIES: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
    "feedback.create": lambda v: {"trace_id": v["trace_id"], "score": 1},
    "feedback.export": lambda v: {"kind": "sft", "project": v["project"]},
    "datasets.record_use": lambda v: {"run_id": v["run_id"]},
    "datasets.alias": lambda v: {"version": "1"},
    "evaluations.compare": lambda v: {"ids": [v["evaluation_id"], v["evaluation_id"]]},
    "prompts.create": lambda v: {
        "project": v["project"],
        "name": v["name"],
        "template": "hi {{ who }}",
        "variables": {"who": {"type": "string"}},
    },
    "prompts.set_alias": lambda v: {"version": 1},
    "prompts.render": lambda v: {"project": v["project"], "variables": {"who": "you"}},
    "prompts.run": lambda v: {"project": v["project"], "variables": {"who": "you"}},
    "deployments.create": lambda v: {
        "name": v["name"],
        "project": v["project"],
        "spec": {"targets": [{"model": "m", "upstream": "http://127.0.0.1:9/v1"}]},
    },
    "deployments.rollback": lambda v: {"project": v["project"]},
    "models.register": lambda v: {"base": "org/oracle-model"},
    "models.promote": lambda v: {"version": "1", "reason": "oracle"},
    "models.protect": lambda v: {
        "suite": f"name: qa\ndataset: {{ref: {v['name']}@1}}\nmetrics: [exact_match]\ngates: [exact_match >= 0.5]\n"
    },
}
RAW = {"datasets.upload": b'{"text": "a walked row"}\n', "runs.upload_artifact": b"artifact bytes"}


def _values(ctx: Context, tmp_path: Path) -> dict[str, str]:
    values = _seed(ctx, tmp_path, project=OTHER)
    run = tracking.create_run(ctx, spec=RunCreate(project=OTHER)).id
    tracking.record_artifact(
        ctx, run_id=run, name="a.txt", sha256=ctx.artifacts.put_bytes(b"a").sha256, size=1
    )
    return {**values, "run_id": run, "name": SEEDED, "project": OTHER}


def _absent(values: dict[str, str]) -> dict[str, str]:
    fresh = {k: uuid.uuid4().hex for k in ("run_id", "trace_id", "evaluation_id")}
    return {**values, **fresh, "name": "absent-thing"}


def _fill(path: str, values: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1).split(":")[0]
        return values.get(name, values["name"])

    return re.sub(r"\{([^}]+)\}", one, path)


def _request(
    client: TestClient, route: Any, method: str, values: dict[str, str], headers: dict[str, str]
) -> Any:
    op = _op(route)
    query = {**_query(route.path), "project": values["project"]}
    kwargs: dict[str, Any] = {"headers": dict(headers), "params": query}
    example = RAW.get(op, EXAMPLES.get(op))
    if op in BODIES:
        kwargs["json"] = BODIES[op](values)
    elif isinstance(example, bytes):
        kwargs["content"] = example
        kwargs["headers"]["content-type"] = "application/octet-stream"
    elif example is not None:
        body = example()
        kwargs["json"] = {**body, "project": values["project"]} if "project" in body else body
    elif method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    return client.request(method, _fill(route.path, values), **kwargs)


def _shape(resp: Any, values: dict[str, str]) -> tuple[int, str]:
    """Status and error body with every value the caller sent replaced by its placeholder
    (a success body: its keys, since ids and times differ from call to call)."""
    try:
        body = resp.json()
    except ValueError:
        return resp.status_code, resp.headers.get("content-type", "")
    if resp.status_code < 400:
        return resp.status_code, json.dumps(sorted(body) if isinstance(body, dict) else type(body).__name__)
    text = json.dumps(body, sort_keys=True)
    for key, value in sorted(values.items(), key=lambda kv: -len(kv[1])):
        text = re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", f"<{key}>", text)
    return resp.status_code, text


def test_another_projects_objects_read_as_absent_on_every_route(ctx: Context, tmp_path: Path) -> None:
    add_user(ctx, "pat", {PROJECT: "maintainer"})
    headers = {"Authorization": f"Bearer {add_key(ctx, 'pat')}"}
    real = _values(ctx, tmp_path)
    absent, nowhere = _absent(real), {**real, "project": NOWHERE}
    app = create_app(ctx)
    set_model_resolver(app, lambda model, project: lambda messages, **params: "a canned answer")
    client = TestClient(app)
    differ: list[str] = []
    checked = 0
    for route in api_routes(app):
        for method in sorted(route.methods - {"HEAD"}):
            a = _shape(_request(client, route, method, real, headers), real)
            for label, other in (("absent object", absent), ("absent project", nowhere)):
                b = _shape(_request(client, route, method, other, headers), other)
                checked += 1
                if a != b:
                    differ.append(f"{method} {route.path}: q's object {a} but {label} {b}")
            if 200 <= a[0] < 300 and method != "GET" and "{" in route.path:
                differ.append(f"{method} {route.path}: wrote into another project ({a[0]})")
    assert not differ, "\n".join(differ)
    assert checked >= 150
