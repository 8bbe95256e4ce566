"""/api/v1/auth: UI login (session cookie + CSRF token), logout, and who am I (``users.login`` …
in the route table: signing in is a verb of the ``users`` noun).

Failed logins are counted per user name (5 per 5 minutes by default) and per client address
(4 times as many, as an address may be shared); past either limit the answer is 429 with
``Retry-After`` before the password is even checked.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from llmloop.errors import RateLimited, Unauthenticated
from llmloop.security import auth
from llmloop.security.ratelimit import FailureLimiter
from llmloop.security.schemas import LoginRequest, LoginResult, Me
from llmloop.security.settings import SecuritySettings
from llmloop.server.auth import SESSION_COOKIE, request_actor
from llmloop.server.deps import CtxDep
from llmloop.server.errors import error_response
from llmloop.server.routes import mount

router = APIRouter(prefix="/auth", tags=["auth"])


@mount(router, "users.login")
def login(ctx: CtxDep, request: Request, body: LoginRequest) -> Response:
    by_name: FailureLimiter = request.app.state.login_limiter
    by_address: FailureLimiter = request.app.state.login_ip_limiter
    settings: SecuritySettings = request.app.state.security
    name_key = f"user:{body.username.lower()}"
    address_key = f"ip:{request.client.host if request.client else 'unknown'}"
    wait = max(by_name.retry_after(name_key) or 0, by_address.retry_after(address_key) or 0)
    if wait:
        resp = error_response(
            RateLimited(f"too many failed logins; retry in {wait} s", details={"retry_after_s": wait})
        )
        resp.headers["Retry-After"] = str(wait)
        return resp
    try:
        session = auth.login(
            ctx.db, body.username, body.password.get_secret_value(), ttl_s=settings.session_ttl_s
        )
    except Unauthenticated:
        by_name.failed(name_key)
        by_address.failed(address_key)
        raise
    by_name.succeeded(name_key)  # the address keeps its count: one good account must not reset it
    result = LoginResult(user=session.user, csrf_token=session.csrf_token, expires_at=session.expires_at)
    resp = JSONResponse(result.model_dump(mode="json"))
    resp.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=int(settings.session_ttl_s),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return resp


@mount(router, "users.logout")
def logout(ctx: CtxDep, request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.logout(ctx.db, token)
    resp = Response(status_code=204)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@mount(router, "users.me")
def me(request: Request) -> Me:
    actor = request_actor(request)
    return Me(id=actor.id, kind=actor.kind, roles=dict(actor.roles), via=actor.via)
