"""Issue 14, classes 2 and 6: upstream credentials only from the secrets store, and never shown.

Class 2: no API caller can make the server send one of its environment variables (``LLMLOOP_MASTER_KEY``)
as a bearer token, on any kind of target (served, shadow, fallback) of a deployment or on a registered
model; a stored secret is forwarded only for an author holding ``secrets:use``, checked when the target
is written and again when it is served. Class 6: a credential in an upstream URL is refused at write,
masked on every read of a row stored before, and never reaches a response body, a log line or a trace.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from security_fixtures import *  # noqa: F403
from security_fixtures import add_key, add_user
from sqlalchemy import text, update
from tests.fakes.openai_server import FakeOpenAI, serving

from llmloop.security import audit, users
from llmloop.security.upstream import author
from llmloop.services.serve.schemas import DeploymentCreate
from llmloop.services.serve.service import create_deployment
from llmloop.store.tables.deployments import DeploymentRevisionRow

P = "default"  # the gateway serves the default project's deployments
PASSWORD = "hunter2-upstream-pw"
GROUPS = ("targets", "shadow", "fallbacks")
SERVER_ENV = ("LLMLOOP_MASTER_KEY", "PATH", "HOME", "LLMLOOP_API_KEY")
HELLO = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with serving() as f:
        yield f


@pytest.fixture
def who(ctx: Any) -> dict[str, dict[str, str]]:
    """Bearer headers: a project admin (may use secrets), a maintainer (may deploy, not use secrets), a viewer."""
    out = {}
    for name, role in (("adm", "admin"), ("maint", "maintainer"), ("view", "viewer"), ("caller", "member")):
        add_user(ctx, name, {P: role})
        out[name] = {"Authorization": f"Bearer {add_key(ctx, name)}"}
    return out


def client(ctx: Any, **settings: Any) -> TestClient:
    from llmloop.server.app import create_app

    return TestClient(create_app(dataclasses.replace(ctx, settings=ctx.settings.model_copy(update=settings))))


def spec_with(group: str, target: dict[str, Any], fake: FakeOpenAI) -> dict[str, Any]:
    """A deployment spec whose ``group`` holds ``target`` (the served target stays a plain upstream)."""
    spec: dict[str, Any] = {"targets": [{"model": "base", "upstream": fake.url}]}
    if group == "targets":
        spec["targets"] = [target]
    else:
        spec[group] = [target]
    return spec


def revisions(ctx: Any) -> int:
    with ctx.db.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM deployment_revisions")).scalar_one())


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("env", SERVER_ENV)
def test_no_caller_names_a_server_variable(
    ctx: Any, who: dict[str, dict[str, str]], fake: FakeOpenAI, group: str, env: str, master_key: str
) -> None:
    """Even an admin gets a clear 400 and no revision: only the operator's allow-list admits a variable."""
    with client(ctx) as api:
        target = {"model": "base", "upstream": fake.url, "api_key_env": env}
        r = api.post(
            "/api/v1/deployments",
            json={"name": "chat", "project": P, "spec": spec_with(group, target, fake)},
            headers=who["adm"],
        )
        assert r.status_code == 400, r.text
        msg = r.json()["error"]["message"]
        assert f"spec.{group}[0].api_key_env" in msg and "LLMLOOP_UPSTREAM_ENV_ALLOW" in msg
        assert "llmloop secrets set" in msg
        assert revisions(ctx) == 0
        up = {"base_url": fake.url, "model": "base", "api_key_env": env}
        m = api.post(
            "/api/v1/models/up/versions", params={"project": P}, json={"upstream": up}, headers=who["adm"]
        )
        assert m.status_code == 400 and "LLMLOOP_UPSTREAM_ENV_ALLOW" in m.json()["error"]["message"], m.text
        assert api.get("/api/v1/models", params={"project": P}, headers=who["adm"]).json()["items"] == []


def test_an_operator_allowed_variable_is_forwarded_for_secret_users_only(
    ctx: Any, who: dict[str, dict[str, str]], fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_UPSTREAM_KEY", "sk-from-env-0123456789")
    fake.reset()
    with client(ctx, upstream_env_allow=["FAKE_UPSTREAM_KEY"]) as api:
        body = {
            "name": "chat",
            "project": P,
            "spec": {
                "targets": [{"model": "base", "upstream": fake.url, "api_key_env": "FAKE_UPSTREAM_KEY"}]
            },
        }
        denied = api.post("/api/v1/deployments", json=body, headers=who["maint"])
        assert denied.status_code == 403 and "secrets:use" in denied.json()["error"]["message"]
        assert revisions(ctx) == 0
        assert api.post("/api/v1/deployments", json=body, headers=who["adm"]).status_code == 201
        r = api.post("/v1/chat/completions", json=HELLO, headers=who["caller"])
        assert r.status_code == 200, r.text
        assert fake.headers[-1]["authorization"] == "Bearer sk-from-env-0123456789"


def test_secret_backed_upstream_end_to_end(
    ctx: Any, who: dict[str, dict[str, str]], fake: FakeOpenAI, master_key: str
) -> None:
    """Stored as a secret, forwarded as the bearer token, re-checked at use: losing ``secrets:use`` stops it."""
    value = "sk-e2e-" + uuid.uuid4().hex
    fake.reset()
    with client(ctx) as api:
        put = api.put(f"/api/v1/secrets/{P}/openai", json={"value": value}, headers=who["adm"])
        assert put.status_code == 200, put.text
        target = {"model": "base", "upstream": fake.url, "api_key_secret": "openai"}
        body = {"name": "chat", "project": P, "spec": {"targets": [target]}}
        for group in GROUPS:  # a maintainer may deploy, but not forward a secret, on any kind of target
            r = api.post(
                "/api/v1/deployments",
                json={**body, "spec": spec_with(group, target, fake)},
                headers=who["maint"],
            )
            assert r.status_code == 403 and "secrets:use" in r.json()["error"]["message"], r.text
        assert revisions(ctx) == 0
        missing = api.post(
            "/api/v1/deployments",
            json={**body, "spec": {"targets": [{**target, "api_key_secret": "nope"}]}},
            headers=who["adm"],
        )
        assert missing.status_code == 400 and "spec.targets[0].api_key_secret" in missing.text
        assert api.post("/api/v1/deployments", json=body, headers=who["adm"]).status_code == 201
        r = api.post("/v1/chat/completions", json=HELLO, headers=who["caller"])
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "echo: hi", r.text
        assert fake.headers[-1]["authorization"] == f"Bearer {value}"
        for path in ("/api/v1/deployments/chat", "/api/v1/deployments", "/api/v1/deployments/chat/revisions"):
            read = api.get(path, params={"project": P}, headers=who["view"])
            assert read.status_code == 200 and value not in read.text
        # the author loses the permission: the next request after the cached key expires sends nothing
        users.revoke_role(ctx, user="adm", project=P)
        sent = len(fake.requests)
        r = api.post("/v1/chat/completions", json=HELLO, headers=who["caller"])
        assert r.status_code == 503 and "secrets:use" in r.text and value not in r.text, r.text
        assert len(fake.requests) == sent


def test_registered_model_upstream_uses_a_secret(
    ctx: Any, who: dict[str, dict[str, str]], fake: FakeOpenAI, master_key: str
) -> None:
    value = "sk-model-" + uuid.uuid4().hex
    fake.reset()
    with client(ctx) as api:
        api.put(f"/api/v1/secrets/{P}/up", json={"value": value}, headers=who["adm"])
        up = {"base_url": fake.url, "model": "base", "api_key_secret": "up"}
        m = api.post(
            "/api/v1/models/up/versions", params={"project": P}, json={"upstream": up}, headers=who["maint"]
        )
        assert m.status_code == 403, m.text  # models:write is not enough to forward a secret
        ok = api.post(
            "/api/v1/models/up/versions", params={"project": P}, json={"upstream": up}, headers=who["adm"]
        )
        assert ok.status_code == 201 and value not in ok.text, ok.text
        r = api.post("/v1/chat/completions", json={**HELLO, "model": "up@1"}, headers=who["caller"])
        assert r.status_code == 200, r.text
        assert fake.headers[-1]["authorization"] == f"Bearer {value}"


CREDENTIAL_URLS = (
    "http://bob:{pw}@{host}/v1",
    "http://{pw}@{host}/v1",
    "http://{host}/v1?api_key={pw}",
    "http://{host}/v1?api-version=1&token={pw}",
)


@pytest.mark.parametrize("form", CREDENTIAL_URLS)
def test_credentials_in_urls_refused_and_never_echoed(
    ctx: Any, who: dict[str, dict[str, str]], fake: FakeOpenAI, form: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = form.format(pw=PASSWORD, host=fake.url.split("//")[1].removesuffix("/v1"))
    caplog.set_level(logging.DEBUG)
    with client(ctx) as api:
        for group in GROUPS:
            r = api.post(
                "/api/v1/deployments",
                json={
                    "name": "chat",
                    "project": P,
                    "spec": spec_with(group, {"model": "b", "upstream": url}, fake),
                },
                headers=who["adm"],
            )
            assert r.status_code == 400, r.text
            assert "may not carry credentials" in r.text and "llmloop secrets set" in r.text
            assert PASSWORD not in r.text
        assert revisions(ctx) == 0
        m = api.post(
            "/api/v1/models/up/versions",
            params={"project": P},
            json={"upstream": {"base_url": url, "model": "b"}},
            headers=who["adm"],
        )
        assert m.status_code == 400 and "may not carry credentials" in m.text and PASSWORD not in m.text, (
            m.text
        )
    assert PASSWORD not in caplog.text


def test_rows_stored_before_are_masked_on_every_read_and_refused_at_use(
    ctx: Any, who: dict[str, dict[str, str]], fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    """A deployment and a model version written with a password in the URL (before this check existed)."""
    url = fake.url.replace("http://", f"http://bob:{PASSWORD}@")
    caplog.set_level(logging.DEBUG)
    create_deployment(
        ctx.as_actor(author(ctx, "adm")),
        spec=DeploymentCreate(
            name="chat", project=P, spec={"targets": [{"model": "base", "upstream": fake.url}]}
        ),
    )
    with ctx.db.session() as s:  # what an older server stored
        audit.exempt(s, "the test plants a row as an older server stored it")
        s.execute(
            update(DeploymentRevisionRow).values(spec={"targets": [{"model": "base", "upstream": url}]})
        )
    with client(ctx) as api:
        bodies = [
            api.get(path, params={"project": P}, headers=who["view"])
            for path in (
                "/api/v1/deployments/chat",
                "/api/v1/deployments",
                "/api/v1/deployments/chat/revisions",
            )
        ]
        assert all(b.status_code == 200 for b in bodies), [b.text for b in bodies]
        assert all(PASSWORD not in b.text and "bob:****@" in b.text for b in bodies)
        fake.reset()
        r = api.post("/v1/chat/completions", json=HELLO, headers=who["caller"])
        assert r.status_code == 503 and "may not carry credentials" in r.text and PASSWORD not in r.text, (
            r.text
        )
        assert fake.requests == []  # nothing was sent with the stored password
        rb = api.post(
            "/api/v1/deployments/chat/rollback", json={"to_revision": 1, "project": P}, headers=who["adm"]
        )
        assert rb.status_code == 400 and PASSWORD not in rb.text, rb.text  # rolling back re-checks the copy
    from llmloop.services.observe.tracer import writer_for

    writer_for(ctx).flush()
    with ctx.db.connect() as c:
        spans = " ".join(str(row) for row in c.execute(text("SELECT * FROM spans")))
    assert PASSWORD not in spans
    assert PASSWORD not in caplog.text


def test_the_cli_registers_an_upstream_by_secret_name_and_shows_only_the_name(
    ctx: Any, cli: Any, fake: FakeOpenAI, master_key: str
) -> None:
    value = "sk-cli-" + uuid.uuid4().hex
    assert cli("secrets", "set", P, "vllm-key", input=value + "\n").exit_code == 0
    r = cli("models", "register", "served", "-p", P, "--upstream-url", fake.url, "--upstream-model", "base",
            "--api-key-secret", "vllm-key")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    shown = cli("models", "show", "served@1", "-p", P)
    assert "key=secret:vllm-key" in shown.stdout and value not in shown.stdout + shown.stderr
    missing = cli("models", "register", "served", "-p", P, "--upstream-url", fake.url, "--upstream-model", "base",
                  "--api-key-secret", "no-such-secret")  # fmt: skip
    assert missing.exit_code == 2 and "no-such-secret" in missing.stderr
