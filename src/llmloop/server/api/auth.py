"""/api/v1/auth: UI login (session cookie + CSRF token), logout, and who am I.

Failed logins are counted per user name and per client address; past the limit the answer
is 429 with ``Retry-After`` before the password is even checked.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from llmloop.errors import RateLimited, Unauthenticated
from llmloop.security import auth
from llmloop.security.ratelimit import FailureLimiter
from llmloop.security.rbac import AUTHENTICATED, PUBLIC
from llmloop.security.schemas import LoginRequest, LoginResult, Me
from llmloop.security.settings import SecuritySettings
from llmloop.server.auth import SESSION_COOKIE, permission, request_actor
from llmloop.server.deps import CtxDep
from llmloop.server.errors import error_response

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=LoginResult, openapi_extra=permission(PUBLIC))
def login(ctx: CtxDep, request: Request, body: LoginRequest) -> Response:
    limiter: FailureLimiter = request.app.state.login_limiter
    settings: SecuritySettings = request.app.state.security
    client = request.client.host if request.client else "unknown"
    counters = (f"user:{body.username.lower()}", f"ip:{client}")
    wait = limiter.retry_after(*counters)
    if wait is not None:
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
        limiter.failed(*counters)
        raise
    limiter.succeeded(counters[0])
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


@router.post("/logout", status_code=204, openapi_extra=permission(AUTHENTICATED))
def logout(ctx: CtxDep, request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.logout(ctx.db, token)
    resp = Response(status_code=204)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/me", response_model=Me, openapi_extra=permission(AUTHENTICATED))
def me(request: Request) -> Me:
    actor = request_actor(request)
    return Me(id=actor.id, kind=actor.kind, roles=dict(actor.roles), via=actor.via)
