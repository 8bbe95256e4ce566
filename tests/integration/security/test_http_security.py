"""The HTTP edge: 401/403/404 envelopes, sessions with CSRF, login throttling, body limits, headers, CORS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from security_fixtures import *  # noqa: F403  (fixtures and helpers)
from security_fixtures import PROJECT, Team, add_user

from llmloop.client import RemoteClient
from llmloop.config import Settings, reset_settings
from llmloop.context import Context
from llmloop.errors import NotFound, Unauthenticated
from llmloop.security import audit, users
from llmloop.server.app import create_app
from llmloop.services.tracking import service
from llmloop.services.tracking.schemas import RunCreate


def _app(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as client:
        yield client


@pytest.fixture
def fresh_api(ctx: Context) -> Iterator[TestClient]:
    """An app built after the test set its environment (limits, CORS are read at start-up)."""
    yield from _app(ctx)


def _err(resp: Any) -> dict[str, Any]:
    body = resp.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    return dict(body["error"])


def test_unauthenticated_gets_401_envelopes(ctx: Context, api: Any, team: Team) -> None:
    for headers in (
        {},
        {"Authorization": "Basic YTpi"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer llk_00000000_" + "A" * 43},
        {"Authorization": "Bearer ' OR 1=1 --"},
    ):
        resp = api.get("/api/v1/runs", headers=headers)
        assert resp.status_code == 401, headers
        assert _err(resp)["code"] == "unauthenticated"
    assert api.get("/api/v1/health").status_code == 200  # public
    assert api.get("/api/v1/openapi.json").status_code == 200


def test_auth_required_setting_locks_an_empty_store(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMLOOP_AUTH_REQUIRED", "1")
    for client in _app(ctx):
        assert client.get("/api/v1/runs").status_code == 401
    monkeypatch.delenv("LLMLOOP_AUTH_REQUIRED")
    for client in _app(ctx):
        assert client.get("/api/v1/runs").status_code == 200


def test_cross_project_access_is_not_found(ctx: Context, api: Any, team: Team) -> None:
    own = service.create_run(ctx, spec=RunCreate(project=PROJECT)).id
    other = service.create_run(ctx, spec=RunCreate(project="q")).id
    viewer, member = team.headers("viewer"), team.headers("member")
    assert api.get(f"/api/v1/runs/{own}", headers=viewer).status_code == 200
    hidden = api.get(f"/api/v1/runs/{other}", headers=viewer)
    absent = api.get("/api/v1/runs/0123456789abcdef0123456789abcdef", headers=viewer)
    assert hidden.status_code == absent.status_code == 404
    assert _err(hidden)["message"].replace(other, "ID") == _err(absent)["message"].replace(
        "0123456789abcdef0123456789abcdef", "ID"
    )
    for project in ("q", "nonexistent"):
        resp = api.post("/api/v1/runs/search", json={"project": project}, headers=viewer)
        assert resp.status_code == 404 and _err(resp)["message"] == f"project {project!r} not found"
    assert api.post(f"/api/v1/runs/{other}/batch", json={}, headers=member).status_code == 404
    assert api.get(f"/api/v1/runs/{other}/metrics/loss", headers=member).status_code == 404
    assert api.put(f"/api/v1/runs/{other}/artifacts/a.txt", content=b"x", headers=member).status_code == 404
    listed = api.get("/api/v1/runs", headers=viewer).json()["items"]
    assert [r["id"] for r in listed] == [own]
    assert api.post(f"/api/v1/runs/{own}/batch", json={}, headers=viewer).status_code == 403
    assert api.post("/api/v1/runs", json={"project": PROJECT}, headers=viewer).status_code == 403
    created = api.post("/api/v1/runs", json={"project": PROJECT}, headers=member)
    assert created.status_code == 201 and created.json()["created_by"] == "member"
    event = audit.list_events(ctx, actor="member")[0]
    assert event.action == "runs.create" and event.via.startswith("http testclient key llk_")


def test_gateway_and_read_only_keys(api: Any, team: Team) -> None:
    gw = api.get("/api/v1/runs", headers=team.headers("gateway"))
    assert gw.status_code == 403 and _err(gw)["code"] == "permission_denied"
    assert api.get("/api/v1/auth/me", headers=team.headers("gateway")).status_code == 403
    ro = team.headers("readonly")
    assert api.get("/api/v1/runs", headers=ro).status_code == 200
    assert api.post("/api/v1/runs", json={"project": PROJECT}, headers=ro).status_code == 403
    me = api.get("/api/v1/auth/me", headers=ro).json()
    assert me["id"] == "maintainer" and me["roles"] == {PROJECT: "maintainer"}


def test_remote_sdk_raises_the_same_classes(ctx: Context, api: Any, team: Team) -> None:
    other = service.create_run(ctx, spec=RunCreate(project="q")).id
    for key, error in ((team.keys["viewer"], NotFound), (None, Unauthenticated)):
        client = RemoteClient(Settings(server_url="http://testserver", api_key=key))  # type: ignore[arg-type]
        # in-process, same headers: the door's pooled client is swapped for the app's test client
        client.http.client = TestClient(api.app, headers=dict(client.http.client.headers))
        with pytest.raises(error):
            client.runs.get_run(other)


def test_session_login_cookie_and_csrf(ctx: Context, api: Any) -> None:
    add_user(ctx, "ann", {PROJECT: "member"})
    users.set_password(ctx, user="ann", password="correct horse")
    resp = api.post("/api/v1/auth/login", json={"username": "ann", "password": "correct horse"})
    assert resp.status_code == 200
    cookie = resp.headers["set-cookie"]
    assert (
        "llmloop_session=" in cookie
        and "HttpOnly" in cookie
        and "SameSite=strict" in cookie.replace("Strict", "strict")
    )
    csrf = resp.json()["csrf_token"]
    assert api.get("/api/v1/runs").status_code == 200  # the client keeps the cookie
    no_csrf = api.post("/api/v1/runs", json={"project": PROJECT})
    assert no_csrf.status_code == 403 and "CSRF" in _err(no_csrf)["message"]
    wrong = api.post("/api/v1/runs", json={"project": PROJECT}, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    ok = api.post("/api/v1/runs", json={"project": PROJECT}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201 and ok.json()["created_by"] == "ann"
    assert api.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    api.cookies.set("llmloop_session", cookie.split(";")[0].split("=", 1)[1])
    assert api.get("/api/v1/runs").status_code == 401  # the session is gone server-side


def test_login_brute_force_is_rate_limited(ctx: Context, api: Any) -> None:
    add_user(ctx, "ann", {PROJECT: "viewer"})
    users.set_password(ctx, user="ann", password="correct horse")
    for i in range(5):
        resp = api.post("/api/v1/auth/login", json={"username": "ann", "password": f"guess{i}"})
        assert resp.status_code == 401 and _err(resp)["message"] == "invalid username or password"
    blocked = api.post("/api/v1/auth/login", json={"username": "ann", "password": "correct horse"})
    assert blocked.status_code == 429  # even the right password, until the window passes
    assert int(blocked.headers["Retry-After"]) >= 1 and _err(blocked)["code"] == "rate_limited"
    # spraying many names from one address trips the (larger) per-address limit
    statuses = [
        api.post("/api/v1/auth/login", json={"username": f"u{i}", "password": "x"}).status_code
        for i in range(16)
    ]
    assert statuses[:15] == [401] * 15 and statuses[15] == 429


def test_unknown_user_and_wrong_password_look_the_same(ctx: Context, api: Any) -> None:
    add_user(ctx, "ann", {})
    users.set_password(ctx, user="ann", password="correct horse")
    a = api.post("/api/v1/auth/login", json={"username": "ann", "password": "nope"})
    b = api.post("/api/v1/auth/login", json={"username": "nobody", "password": "nope"})
    assert a.status_code == b.status_code == 401 and a.json() == b.json()


def test_bodies_are_bounded(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMLOOP_MAX_BODY_BYTES", "2000")
    monkeypatch.setenv("LLMLOOP_MAX_UPLOAD_BYTES", "5000")
    reset_settings()
    run = service.create_run(ctx, spec=RunCreate(project=PROJECT)).id
    for client in _app(ctx):
        big = client.post("/api/v1/runs/search", json={"filter": "x" * 3000})
        assert big.status_code == 413 and _err(big)["code"] == "too_large"

        def chunks() -> Iterator[bytes]:
            for _ in range(10):
                yield b" " * 500

        streamed = client.post(
            "/api/v1/runs/search", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        url = f"/api/v1/runs/{run}/artifacts/a.bin"
        raw = {"content-type": "application/octet-stream"}
        assert client.put(url, content=b"x" * 4000, headers=raw).status_code == 200
        assert client.put(url, content=b"x" * 6000, headers=raw).status_code == 413

        def upload() -> Iterator[bytes]:
            for _ in range(12):
                yield b"y" * 500

        assert client.put(url, content=upload(), headers=raw).status_code == 413
        assert client.post("/api/v1/runs/search", json={"filter": None}).status_code == 200
    assert service.get_run(ctx, run_id=run).artifacts[0].size == 4000  # the refused uploads left nothing


def test_security_headers_and_closed_cors(ctx: Context, fresh_api: Any) -> None:
    for resp in (
        fresh_api.get("/api/v1/health"),
        fresh_api.get("/api/v1/runs/nope"),
        fresh_api.get("/api/v1/docs"),
    ):
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
        assert resp.headers["referrer-policy"] == "no-referrer"
    pre = fresh_api.options(
        "/api/v1/runs",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in pre.headers
    simple = fresh_api.get("/api/v1/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_cors_opens_only_to_configured_origins(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMLOOP_CORS_ORIGINS", '["https://ui.example"]')
    for client in _app(ctx):
        pre = {"Access-Control-Request-Method": "GET"}
        ok = client.options("/api/v1/runs", headers={"Origin": "https://ui.example", **pre})
        assert ok.headers.get("access-control-allow-origin") == "https://ui.example"
        bad = client.options("/api/v1/runs", headers={"Origin": "https://evil.example", **pre})
        assert "access-control-allow-origin" not in bad.headers


def test_secret_values_never_come_back(ctx: Context, api: Any, team: Team, master_key: str, cli: Any) -> None:
    admin = team.headers("admin")
    put = api.put("/api/v1/secrets/p/openai", json={"value": "sk-live-abcdef123456"}, headers=admin)
    assert put.status_code == 200 and "sk-live" not in put.text
    listed = api.get("/api/v1/secrets/p", headers=admin)
    assert listed.status_code == 200 and [s["name"] for s in listed.json()] == ["openai"]
    assert "sk-live" not in listed.text
    assert api.get("/api/v1/secrets/p", headers=team.headers("maintainer")).status_code == 403
    from llmloop.security import vault

    assert vault.use_secret(ctx, project="p", name="openai", actor=ctx.actor) == "sk-live-abcdef123456"
    shown = cli("config", "show", "--json")
    assert master_key not in shown.stdout and "sk-live" not in shown.stdout
    listed_cli = cli("secrets", "list", "p")
    assert listed_cli.exit_code == 0 and "sk-live" not in listed_cli.stdout and "****" in listed_cli.stdout
    assert api.delete("/api/v1/secrets/p/openai", headers=admin).status_code == 204
