"""Minting a key never mints authority: a key holds at most what its owner and creator hold *now*.

The attack (issue 14, class 1): a viewer, a user with no role, or a member of another project
created a gateway-only key naming a deployment, and that key was then let onto ``/v1`` where
its owner was refused. Each case below is tried over HTTP as the attacker would.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from security_fixtures import *  # noqa: F403  (fixtures and helpers)
from security_fixtures import add_key, add_user

from llmloop.context import Context
from llmloop.security import users
from llmloop.server.app import create_app
from llmloop.services.serve import service as deploy_service
from llmloop.services.serve.schemas import DeploymentCreate, DeploymentSpec, TargetSpec

PROJECT = "default"  # the gateway resolves deployments in the default project
GATEWAY_KEY = {"name": "mint", "scopes": ["gateway"], "deployments": ["chat"]}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _deploy(ctx: Context, name: str, project: str) -> None:
    target = TargetSpec(model="m", upstream="http://127.0.0.1:9/v1")
    deploy_service.create_deployment(
        ctx, spec=DeploymentCreate(name=name, project=project, spec=DeploymentSpec(targets=[target]))
    )


def _invocable(client: TestClient, key: str) -> list[str]:
    resp = client.get("/v1/models", headers=_bearer(key))
    if resp.status_code == 403:
        return []
    assert resp.status_code == 200, resp.text
    return [m["id"] for m in resp.json()["data"] if m["owned_by"] == PROJECT]


@pytest.fixture(name="client")
def client_fixture(ctx: Context) -> TestClient:
    assert ctx.settings.default_project == PROJECT
    _deploy(ctx, "chat", PROJECT)
    _deploy(ctx, "elsewhere", "q")
    add_user(ctx, "vic", {PROJECT: "viewer"})
    add_user(ctx, "nobody", {})
    add_user(ctx, "quinn", {"q": "member"})
    add_user(ctx, "ann", {PROJECT: "member"})
    add_user(ctx, "boss", {"*": "admin"})
    return TestClient(create_app(ctx))


@pytest.mark.parametrize(
    ("attacker", "status"),
    [("vic", 403), ("nobody", 404), ("quinn", 404)],  # a viewer sees chat; the others may not know it exists
)
def test_no_one_mints_a_gateway_key_for_a_deployment_they_may_not_call(
    ctx: Context, client: TestClient, attacker: str, status: int
) -> None:
    own = add_key(ctx, attacker)
    assert _invocable(client, own) == []  # refused on /v1 with their own key ...
    minted = client.post("/api/v1/keys", json=GATEWAY_KEY, headers=_bearer(own))
    assert minted.status_code == status, minted.text  # ... and cannot mint one that is not
    assert minted.json()["error"]["details"] == {"deployment": "chat"}
    absent = client.post(
        "/api/v1/keys", json={**GATEWAY_KEY, "deployments": ["no-such-thing"]}, headers=_bearer(own)
    )
    if status == 404:  # another project's deployment reads exactly as an absent one
        assert absent.status_code == 404
        assert absent.json()["error"]["details"].keys() == minted.json()["error"]["details"].keys()


def test_a_key_minted_by_an_admin_for_someone_gives_them_no_more_than_their_roles(
    ctx: Context, client: TestClient
) -> None:
    boss = add_key(ctx, "boss")
    resp = client.post("/api/v1/keys", json={**GATEWAY_KEY, "user": "vic"}, headers=_bearer(boss))
    assert resp.status_code == 404 or resp.status_code == 403, resp.text  # vic may not call chat
    # a key minted for a viewer carries no more than viewer rights, whatever the admin holds
    minted = client.post("/api/v1/keys", json={"name": "for-vic", "user": "vic"}, headers=_bearer(boss))
    assert minted.status_code == 201, minted.text
    vic_key = minted.json()["key"]
    assert client.post("/api/v1/runs", json={"project": PROJECT}, headers=_bearer(vic_key)).status_code == 403


def test_a_gateway_key_loses_its_authority_when_its_owner_does(ctx: Context, client: TestClient) -> None:
    ann = add_key(ctx, "ann")
    resp = client.post("/api/v1/keys", json=GATEWAY_KEY, headers=_bearer(ann))
    assert resp.status_code == 201, resp.text
    gateway = resp.json()["key"]
    assert _invocable(client, gateway) == ["chat"]
    users.grant_role(ctx, user="ann", project=PROJECT, role="viewer")  # demoted
    assert _invocable(client, gateway) == []
    chat: Any = client.post(
        "/v1/chat/completions",
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
        headers=_bearer(gateway),
    )
    assert chat.status_code == 403, chat.text
    users.grant_role(ctx, user="ann", project=PROJECT, role="member")
    assert _invocable(client, gateway) == ["chat"]
    users.revoke_role(ctx, user="ann", project=PROJECT)
    assert _invocable(client, gateway) == []


def test_a_key_minted_for_someone_else_shrinks_with_its_creator(ctx: Context, client: TestClient) -> None:
    add_user(ctx, "lead", {PROJECT: "admin", "*": "admin"})
    lead = add_key(ctx, "lead")
    resp = client.post(
        "/api/v1/keys", json={**GATEWAY_KEY, "user": "ann", "name": "for-ann"}, headers=_bearer(lead)
    )
    assert resp.status_code == 201, resp.text
    for_ann = resp.json()["key"]
    assert _invocable(client, for_ann) == ["chat"]
    users.grant_role(ctx, user="lead", project=PROJECT, role="viewer")  # the creator is demoted in PROJECT
    assert _invocable(client, for_ann) == []
    users.grant_role(ctx, user="lead", project=PROJECT, role="admin")
    assert _invocable(client, for_ann) == ["chat"]
    users.disable_user(ctx, user="lead")  # the creator leaves: their keys for others hold nothing
    assert _invocable(client, for_ann) == []
