"""Pages with auth on: the login form, the session and CSRF cookies, roles, and redirects kept on-site."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.integration.ui.seed import PROJECT, Loop

from llmloop.security import users
from llmloop.security.schemas import RoleBinding, UserCreate

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def people(seeded: tuple[Any, Loop]) -> None:
    ctx = seeded[0]
    for name, role in (("max", "maintainer"), ("vic", "viewer")):
        users.create_user(ctx, spec=UserCreate(name=name, roles=[RoleBinding(project=PROJECT, role=role)]))
        users.set_password(ctx, user=name, password=PASSWORD)


def _sign_in(ui: TestClient, name: str, next: str = "/runs") -> Any:
    return ui.post(
        "/login", data={"username": name, "password": PASSWORD, "next": next}, follow_redirects=False
    )


def test_an_anonymous_page_is_the_login_form_and_an_anonymous_twin_the_401_envelope(
    ui: TestClient, people: None
) -> None:
    page = ui.get("/runs", params={"project": PROJECT})
    assert page.status_code == 401 and 'form method="post" action="/login"' in page.text
    assert 'name="next" value="/runs?project=shop"' in page.text
    twin = ui.get("/runs.json", params={"project": PROJECT})
    assert twin.status_code == 401 and twin.json()["error"]["code"] == "unauthenticated"


def test_signing_in_sets_httponly_strict_cookies_and_goes_back_where_asked(
    ui: TestClient, people: None
) -> None:
    answer = _sign_in(ui, "vic", next="/models?project=shop")
    assert answer.status_code == 303 and answer.headers["location"] == "/models?project=shop"
    cookies = answer.headers.get_list("set-cookie")
    assert {c.split("=")[0] for c in cookies} == {"llmloop_session", "llmloop_csrf"}
    assert all("HttpOnly" in c and "SameSite=strict" in c for c in cookies)
    assert ui.get("/models", params={"project": PROJECT}).status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_a_login_never_redirects_off_site(ui: TestClient, people: None, target: str) -> None:
    assert _sign_in(ui, "vic", next=target).headers["location"] == "/"


def test_a_wrong_password_shows_the_form_again(ui: TestClient, people: None) -> None:
    answer = ui.post("/login", data={"username": "vic", "password": "nope nope nope"})
    assert answer.status_code == 401 and 'role="alert"' in answer.text


def test_a_session_change_needs_the_csrf_header_and_a_viewer_may_not_promote(
    ui: TestClient, people: None
) -> None:
    _sign_in(ui, "max")
    form = {"version": "3", "alias": "staging"}
    bare = ui.post("/models/m/promote", params={"project": PROJECT}, data=form)
    assert bare.status_code == 403 and "csrf" in bare.text.lower()  # no change without the session's token
    page = ui.get("/models/m", params={"project": PROJECT}).text
    token = page.split('"X-CSRF-Token": "')[1].split('"')[0]
    assert token == ui.cookies.get("llmloop_csrf")
    done = ui.post(
        "/models/m/promote", params={"project": PROJECT}, data=form, headers={"x-csrf-token": token}
    )
    assert done.status_code == 200 and 'id="promoted"' in done.text

    ui.cookies.clear()
    _sign_in(ui, "vic")
    page = ui.get("/models/m", params={"project": PROJECT}).text
    assert 'id="promote-form"' not in page  # absent for a role that may not promote
    token = ui.cookies.get("llmloop_csrf") or ""
    denied = ui.post(
        "/models/m/promote", params={"project": PROJECT}, data=form, headers={"x-csrf-token": token}
    )
    assert denied.status_code == 403  # and the server refuses anyway
    assert ui.get("/admin", params={"project": PROJECT}).status_code == 403


def test_signing_out_ends_the_session(ui: TestClient, people: None) -> None:
    _sign_in(ui, "vic")
    token = ui.cookies.get("llmloop_csrf") or ""
    assert ui.post("/logout").status_code == 403  # not without the session's CSRF token
    out = ui.post("/logout", headers={"x-csrf-token": token})
    assert out.status_code == 200 and out.headers["hx-redirect"] == "/login"
    assert ui.get("/models", params={"project": PROJECT}).status_code == 401
