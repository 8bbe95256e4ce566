"""Who is calling, and may they call this route at all: one dependency on every route of the app.

Every route declares what it needs with ``openapi_extra=permission("runs:read")`` (or
``PUBLIC`` / ``AUTHENTICATED``); the declaration is in the OpenAPI schema, so a test walks
every route of ``create_app()`` and every role. ``authorize`` (installed app-wide, so routes
added later are covered without doing anything) resolves the actor and makes the *coarse*
check: the actor must hold the permission in at least one project. The service then makes
the real per-project check with ``ctx.require``; a route that forgets to declare anything
is reachable by global admins only (fail closed).

Credentials: ``Authorization: Bearer <key>``, or the UI's session cookie, which must be
echoed by an ``X-CSRF-Token`` header on every state-changing method. While auth is not
enabled (no user yet, loopback only) callers act as the local admin.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import Request

from llmloop.errors import PermissionDenied, Unauthenticated
from llmloop.security import auth
from llmloop.security.rbac import AUTHENTICATED, LOCAL_ADMIN, PERMISSIONS, PUBLIC, Actor

PERMISSION_KEY = "x-llmloop-permission"
SESSION_COOKIE = "llmloop_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANONYMOUS = Actor(id="anonymous", kind="anonymous", roles={})


def permission(name: str) -> dict[str, Any]:
    """``openapi_extra`` for a route: what a caller needs. Unknown names fail at import time."""
    if name not in PERMISSIONS and name not in (PUBLIC, AUTHENTICATED):
        raise KeyError(f"unknown permission {name!r}: add it to llmloop.security.rbac.PERMISSIONS")
    return {PERMISSION_KEY: name}


def route_permission(request: Request) -> str | None:
    route = request.scope.get("route")
    extra = getattr(route, "openapi_extra", None) or {}
    value = extra.get(PERMISSION_KEY)
    return value if isinstance(value, str) else None


def client_via(request: Request) -> str:
    host = request.client.host if request.client else "unknown"
    return f"http {host}"


class AuthState:
    """Whether auth is on for this app: sticky once on, so the local check costs one tiny query only
    while no user exists."""

    def __init__(self) -> None:
        self.enabled = False

    def is_enabled(self, request: Request) -> bool:
        if not self.enabled:
            self.enabled = auth.auth_enabled(request.app.state.ctx.db)
        return self.enabled


def resolve_actor(request: Request) -> Actor | None:
    """The caller's identity; None when none was presented and auth is on. Bad credentials raise."""
    ctx = request.app.state.ctx
    via = client_via(request)
    state: AuthState = request.app.state.auth
    if not state.is_enabled(request):
        # local single-user mode: no identity exists to check a credential against, and clients such as
        # the official openai package always send some bearer token
        return replace(LOCAL_ADMIN, via=via)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("use 'Authorization: Bearer <key>'")
        return auth.actor_for_key(ctx.db, token.strip(), via=via)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return auth.actor_for_session(
            ctx.db,
            cookie,
            csrf=request.headers.get(CSRF_HEADER),
            needs_csrf=request.method not in SAFE_METHODS,
            via=via,
        )
    return None


def authorize(request: Request) -> None:
    """App-wide dependency: authenticate, then the coarse permission check of the route's declaration."""
    needed = route_permission(request)
    if needed == PUBLIC:
        try:
            request.state.actor = resolve_actor(request) or ANONYMOUS
        except (Unauthenticated, PermissionDenied):
            request.state.actor = ANONYMOUS
        return
    actor = resolve_actor(request)
    if actor is None:
        raise Unauthenticated(
            "authentication required: send 'Authorization: Bearer <key>' (an admin creates keys with "
            "`llmloop keys create`)"
        )
    if needed == AUTHENTICATED:
        allowed = actor.deployments is None
    elif needed is None:  # undeclared route: fail closed
        allowed = actor.role_in("*") == "admin" and actor.deployments is None
    else:
        allowed = actor.can_anywhere(needed)
    if not allowed:
        raise PermissionDenied(f"{actor.id} may not {needed or 'call undeclared routes'}")
    request.state.actor = actor


def request_actor(request: Request) -> Actor:
    """The actor ``authorize`` resolved (it runs first on every route)."""
    actor = getattr(request.state, "actor", None)
    if actor is None:
        authorize(request)
        actor = request.state.actor
    assert isinstance(actor, Actor)
    return actor


def api_routes(app: Any) -> list[Any]:
    """Every FastAPI route the app serves, through included routers: what the route matrix walks.

    (FastAPI keeps included routers nested; its ``iter_route_contexts`` yields each effective
    route with the app's dependencies and prefixes applied. The docs pages are plain Starlette
    routes and stay public.)
    """
    from fastapi.routing import iter_route_contexts

    return [rc for rc in iter_route_contexts(app.routes) if hasattr(rc, "dependant")]
