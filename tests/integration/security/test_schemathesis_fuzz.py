"""A schemathesis run over the served OpenAPI schema: random, schema-shaped requests to every
operation, as an admin (so handlers run) and anonymously (so the auth layer is fuzzed too).
The one property checked: no 5xx, ever."""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase
from security_fixtures import *  # noqa: F403  (fixtures and helpers)
from security_fixtures import add_key, add_user

from llmloop.context import Context
from llmloop.server.app import create_app
from llmloop.services.tracking import service
from llmloop.services.tracking.schemas import RunCreate

schemathesis = pytest.importorskip("schemathesis")
EXAMPLES_PER_OPERATION = 6
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)


def _openai_shaped(resp: Any) -> bool:
    """A JSON error body carries OpenAI's ``error`` object (OTLP's protobuf answers are not JSON)."""
    if "json" not in resp.headers.get("content-type", ""):
        return True
    return set(resp.json().get("error") or ()) == {"message", "type", "param", "code"}


def _fuzz(op: Any, client: Any, key: str, failures: list[str], examples: int = EXAMPLES_PER_OPERATION) -> int:
    calls = 0
    gateway = op.path.startswith("/v1/")

    @hypothesis.settings(SETTINGS, max_examples=examples)
    @hypothesis.given(case=op.as_strategy())
    def call(case: Any) -> None:
        nonlocal calls
        for headers in ({"Authorization": f"Bearer {key}"}, {}):
            resp = case.call(session=client, headers=headers)
            calls += 1
            if resp.status_code >= 500:
                failures.append(
                    f"{op.label} -> {resp.status_code}: {case.path_parameters} {case.query} {resp.text[:200]}"
                )
            elif gateway and resp.status_code >= 400 and not _openai_shaped(resp):
                failures.append(f"{op.label} -> {resp.status_code} not OpenAI-shaped: {resp.text[:200]}")

    call()
    return calls


def test_no_5xx_for_schema_shaped_requests(sqlite_ctx: Context, master_key: str) -> None:
    ctx = sqlite_ctx
    from schemathesis.python import asgi

    add_user(ctx, "root", {"*": "admin"})
    key = add_key(ctx, "root")
    service.create_run(ctx, spec=RunCreate(project="p"))
    app = create_app(ctx)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    calls = 0
    with asgi.get_client(app) as client:
        for result in schema.get_all_operations():
            calls += _fuzz(result.ok(), client, key, failures)
    assert calls >= 100
    assert not failures, "\n".join(failures[:20])


def test_no_5xx_for_schema_shaped_gateway_requests(sqlite_ctx: Context, master_key: str) -> None:
    """The same run over ``/v1`` (the OpenAI-compatible gateway, whose bodies the schema documents),
    with a deployment the generated ``model`` may hit and more examples per operation: no 5xx, and
    every error in OpenAI's shape."""
    from schemathesis.python import asgi
    from tests.fakes.openai_server import serving

    from llmloop.services.serve import service as serve
    from llmloop.services.serve.schemas import DeploymentCreate, DeploymentSpec, TargetSpec

    ctx = sqlite_ctx
    add_user(ctx, "root", {"*": "admin"})
    key = add_key(ctx, "root")
    app = create_app(ctx)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    calls = 0
    with serving() as fake, asgi.get_client(app) as client:
        target = TargetSpec(model="echo-1", upstream=fake.url)
        serve.create_deployment(ctx, spec=DeploymentCreate(name="d", spec=DeploymentSpec(targets=[target])))
        for result in schema.get_all_operations():
            op = result.ok()
            if op.path.startswith("/v1/") or op.path == "/metrics":
                calls += _fuzz(op, client, key, failures, examples=4 * EXAMPLES_PER_OPERATION)
    assert calls >= 100
    assert not failures, "\n".join(failures[:20])
