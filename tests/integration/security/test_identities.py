"""Users, roles and API keys through the services, the CLI and the API."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from security_fixtures import *  # noqa: F403  (fixtures and helpers)
from security_fixtures import PROJECT, add_key, add_user
from sqlalchemy import text

from llmloop.context import Context
from llmloop.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from llmloop.security import audit, keys, users
from llmloop.security.auth import actor_for_key
from llmloop.security.rbac import Actor
from llmloop.security.schemas import ApiKeyCreate


def _dump(ctx: Context) -> str:
    """Every row of every table as text: what an attacker with a copy of the database sees."""
    out = []
    with ctx.db.connect() as conn:
        names = [
            "users",
            "role_bindings",
            "api_keys",
            "auth_sessions",
            "audit_events",
            "audit_head",
            "secrets",
        ]
        for table in names:
            out += [repr(tuple(r)) for r in conn.execute(text(f"SELECT * FROM {table}"))]
    return "\n".join(out)


def test_admin_init_prints_the_key_once_and_stores_only_its_hash(ctx: Context, cli: Any, api: Any) -> None:
    assert api.get("/api/v1/runs").status_code == 200  # local mode: no key needed yet
    res = cli("admin", "init", "--json")
    assert res.exit_code == 0
    body = json.loads(res.stdout)
    key = body["key"]["key"]
    assert key.startswith("llk_") and body["key"]["prefix"] == key[:12]
    secret = key[len(body["key"]["prefix"]) + 1 :]  # not split("_"): the secret itself may hold "_"
    assert key not in _dump(ctx) and secret not in _dump(ctx)
    assert body["user"]["roles"] == [{"project": "*", "role": "admin"}]
    assert api.get("/api/v1/runs").status_code == 401
    assert api.get("/api/v1/runs", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    listed = cli("keys", "list", "--json")
    assert listed.exit_code == 0 and key not in listed.stdout and key[:12] in listed.stdout
    again = cli("admin", "init")
    assert again.exit_code == 2 and "already initialised" in again.stderr


def test_users_cli_create_grant_revoke(ctx: Context, cli: Any) -> None:
    assert cli("users", "create", "ann", "--role", "travel=member").exit_code == 0
    assert cli("users", "create", "bot", "--service-account", "--role", "*=viewer").exit_code == 0
    assert cli("users", "grant", "ann", "-p", "hotels", "--role", "maintainer").exit_code == 0
    listed = json.loads(cli("users", "list", "--json").stdout)
    ann = next(u for u in listed if u["name"] == "ann")
    assert ann["roles"] == [
        {"project": "hotels", "role": "maintainer"},
        {"project": "travel", "role": "member"},
    ]
    assert cli("users", "revoke", "ann", "-p", "travel").exit_code == 0
    bad = cli("users", "create", "x", "--role", "travel=owner")
    assert bad.exit_code == 2 and "PROJECT=ROLE" in bad.stderr
    assert cli("users", "create", "ann").exit_code == 2  # exists
    missing = cli("users", "revoke", "ann", "-p", "travel")
    assert missing.exit_code == 2 and "no role" in missing.stderr
    actions = [e.action for e in audit.list_events(ctx)]
    assert actions.count("users.grant") == 1 and actions.count("users.revoke") == 1


def test_key_lifecycle_create_use_revoke_expire(ctx: Context, cli: Any) -> None:
    add_user(ctx, "ann", {PROJECT: "member"})
    created = cli("keys", "create", "--user", "ann", "--name", "ci", "--json")
    key = json.loads(created.stdout)["key"]
    actor = actor_for_key(ctx.db, key, via="test")
    assert actor.id == "ann" and actor.roles == {PROJECT: "member"} and "key llk_" in actor.via
    listed = keys.list_keys(ctx, user="ann")
    assert listed[0].last_used_at is not None and listed[0].name == "ci"
    assert cli("keys", "revoke", key[:12]).exit_code == 0
    with pytest.raises(Exception, match="revoked"):
        actor_for_key(ctx.db, key)
    assert keys.list_keys(ctx, user="ann") == []
    assert len(keys.list_keys(ctx, user="ann", include_revoked=True)) == 1
    short = add_key(ctx, "ann", expires_in_s=0.05)
    actor_for_key(ctx.db, short)
    time.sleep(0.1)
    with pytest.raises(Exception, match="expired"):
        actor_for_key(ctx.db, short)
    for forged in (
        key[:-1] + ("A" if key[-1] != "A" else "B"),
        "llk_00000000_" + "A" * 43,
        "not-a-key",
        key + "\n",
    ):
        with pytest.raises(Exception, match="invalid API key"):
            actor_for_key(ctx.db, forged)
    expiring = json.loads(cli("keys", "create", "--user", "ann", "--expires-in", "30d", "--json").stdout)
    assert 29 * 86400 < expiring["expires_at"] - expiring["created_at"] <= 30 * 86400
    assert cli("keys", "create", "--user", "ann", "--expires-in", "soon").exit_code == 2


def test_key_rules(ctx: Context) -> None:
    add_user(ctx, "ann", {PROJECT: "member"})
    add_user(ctx, "bob", {PROJECT: "member"})
    ann = ctx.as_actor(Actor(id="ann", roles={PROJECT: "member"}))
    mine = keys.create_key(ann, spec=ApiKeyCreate())
    bobs = keys.create_key(ctx, spec=ApiKeyCreate(user="bob"))
    assert [k.prefix for k in keys.list_keys(ann)] == [mine.prefix]
    with pytest.raises(NotFound):
        keys.list_keys(ann, user="bob")
    with pytest.raises(NotFound):
        keys.revoke_key(ann, key=bobs.prefix)
    with pytest.raises(PermissionDenied):
        keys.create_key(ann, spec=ApiKeyCreate(user="bob"))
    readonly = ctx.as_actor(Actor(id="ann", roles={PROJECT: "member"}, max_role="viewer"))
    with pytest.raises(PermissionDenied, match="cannot create keys"):
        keys.create_key(readonly, spec=ApiKeyCreate())
    with pytest.raises(InvalidInput, match="deployments"):
        keys.create_key(ctx, spec=ApiKeyCreate(user="ann", scopes=["gateway"]))
    with pytest.raises(InvalidInput, match="gateway"):
        keys.create_key(ctx, spec=ApiKeyCreate(user="ann", deployments=["chat"]))
    with pytest.raises(InvalidInput, match="owner"):
        keys.create_key(ctx, spec=ApiKeyCreate())
    with pytest.raises(Conflict):
        users.bootstrap_admin(ctx, name="root", password=None)


def test_password_login_only_for_people(ctx: Context) -> None:
    from pydantic import SecretStr

    from llmloop.security.schemas import UserCreate

    with pytest.raises(InvalidInput, match="service accounts"):
        users.create_user(
            ctx, spec=UserCreate(name="bot", kind="service_account", password=SecretStr("x" * 10))
        )
    add_user(ctx, "ann", {})
    with pytest.raises(InvalidInput, match="8 to 1024 characters"):
        users.set_password(ctx, user="ann", password="short")
    users.set_password(ctx, user="ann", password="long enough")
    assert users.get_user(ctx, name="ann").has_password
    assert "long enough" not in _dump(ctx)


def test_disabling_a_user_stops_their_keys_at_once(ctx: Context, cli: Any, api: Any) -> None:
    add_user(ctx, "ann", {PROJECT: "member"})
    key = add_key(ctx, "ann")
    assert api.get("/api/v1/runs", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    res = cli("users", "disable", "ann", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["disabled"] is True
    resp = api.get("/api/v1/runs", headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 401 and "disabled" in resp.json()["error"]["message"]
    with pytest.raises(Conflict, match="disabled"):
        keys.create_key(ctx, spec=ApiKeyCreate(user="ann"))
    assert [e.action for e in audit.list_events(ctx, action="users.disable")] == ["users.disable"]
