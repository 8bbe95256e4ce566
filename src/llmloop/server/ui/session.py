"""Signing in and out of the UI: a plain HTML form over the same login as ``POST /api/v1/auth/login``.

The API's login sets the httponly session cookie, counts failures and rate-limits them; this
form calls that very function and adds a second cookie holding the session's CSRF token, which
pages render into ``X-CSRF-Token`` for htmx (the server checks it against the session's hash).
Both cookies are ``SameSite=Strict``. In local mode (no user exists yet) nobody signs in.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from llmloop.errors import Unauthenticated
from llmloop.security.rbac import AUTHENTICATED, PUBLIC
from llmloop.security.schemas import LoginRequest
from llmloop.server.api.auth import login as api_login
from llmloop.server.api.auth import logout as api_logout
from llmloop.server.auth import SESSION_COOKIE, permission
from llmloop.server.ui.render import CSRF_COOKIE, check_local_csrf, render_html

router = APIRouter()


def _safe_next(target: str) -> str:
    """Only a path on this site: ``//evil.example`` or ``https://…`` would be an open redirect."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


@router.get("/login", name="ui.login_form", openapi_extra=permission(PUBLIC), include_in_schema=False)
def login_form(request: Request, next: str = "/") -> Response:
    return render_html(request, "login.html", {"error": "", "next": _safe_next(next)})


@router.post("/login", name="ui.login", openapi_extra=permission(PUBLIC), include_in_schema=False)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=256)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    target = _safe_next(next)
    try:
        answer = api_login(request.app.state.ctx, request, LoginRequest(username=username, password=password))
    except Unauthenticated as e:
        return render_html(request, "login.html", {"error": e.message, "next": target}, status=401)
    if answer.status_code != 200:  # rate limited: the API's envelope says for how long
        message = json.loads(bytes(answer.body))["error"]["message"]
        return render_html(
            request, "login.html", {"error": message, "next": target}, status=answer.status_code
        )
    result = json.loads(bytes(answer.body))
    resp = RedirectResponse(target, status_code=303)
    for key, value in answer.raw_headers:
        if key == b"set-cookie":
            resp.raw_headers.append((key, value))
    resp.set_cookie(
        CSRF_COOKIE,
        result["csrf_token"],
        max_age=int(request.app.state.security.session_ttl_s),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return resp


@router.post("/logout", name="ui.logout", openapi_extra=permission(AUTHENTICATED), include_in_schema=False)
def logout(request: Request) -> Response:
    check_local_csrf(request)
    if request.cookies.get(SESSION_COOKIE):
        api_logout(request.app.state.ctx, request)
    resp = Response(status_code=200, headers={"hx-redirect": "/login"})
    resp.delete_cookie(SESSION_COOKIE, path="/")
    resp.delete_cookie(CSRF_COOKIE, path="/")
    return resp
