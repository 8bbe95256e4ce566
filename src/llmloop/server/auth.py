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

import time
from dataclasses import replace
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from llmloop.errors import LlmloopError, PermissionDenied, Unauthenticated
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


CACHE_S = 1.0  # how long a resolved credential is reused; see AuthState


class AuthState:
    """Whether auth is on for this app, and the credentials resolved in the last moment.

    Resolving a bearer key (or, before any user exists, checking that none does) is a database
    query; on the gateway's path that query and the thread it runs on cost more than the rest
    of the request. So an answer is reused for up to ``CACHE_S`` seconds, and dropped at once
    when this process commits a change to users, keys or roles (``identity_generation``): a key
    revoked through this server stops working on its next request, one revoked by another
    process within ``CACHE_S``. Failures are never cached, and cookie sessions are not cached.
    """

    def __init__(self) -> None:
        self.enabled = False
        self._checked_at = -CACHE_S
        self._generation = -1
        self._keys: dict[str, tuple[float, Actor]] = {}
        self._refreshing: set[str] = set()

    def _current(self) -> bool:
        """False (and everything forgotten) when identities changed in this process since the last look."""
        generation = auth.identity_generation()
        if generation != self._generation:
            self._generation = generation
            self._keys.clear()
            self._checked_at = -CACHE_S
            return False
        return True

    def _usable(self, at: float, key: str) -> bool:
        """Fresh; or a little stale while one request already refreshes it, so that when an entry
        expires under load one request asks the store, not every request in flight."""
        if not self._current():
            return False
        age = time.monotonic() - at
        if age < CACHE_S:
            return True
        if key not in self._refreshing:
            self._refreshing.add(key)  # this request refreshes it (``refreshed`` when done)
            return False
        return age < 2 * CACHE_S

    def refreshed(self, request: Request) -> None:
        token = _bearer(request)
        self._refreshing.discard(_cache_key(token, request) if self.enabled and token else "")

    def is_enabled(self, request: Request) -> bool:
        if not self.enabled and not (self._current() and time.monotonic() - self._checked_at < CACHE_S):
            self.enabled = auth.auth_enabled(request.app.state.ctx.db)
            self._checked_at = time.monotonic()
        return self.enabled

    def cached(self, request: Request) -> Actor | None:
        """The actor resolved for this request's credential a moment ago, if any; no I/O."""
        if not self.enabled:
            return (
                replace(LOCAL_ADMIN, via=client_via(request)) if self._usable(self._checked_at, "") else None
            )
        token = _bearer(request)
        key = _cache_key(token, request) if token else None
        hit = self._keys.get(key) if key else None
        if hit is None or key is None or not self._usable(hit[0], key):
            return None
        return hit[1]

    def remember(self, request: Request, actor: Actor) -> None:
        token = _bearer(request)
        if not self.enabled or token is None:
            return
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[_cache_key(token, request)] = (time.monotonic(), actor)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _cache_key(token: str, request: Request) -> str:
    # the actor names the client address it came from (audit), so the address is part of the key
    return f"{auth.sha256_hex(token)} {client_via(request)}"


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
        actor = auth.actor_for_key(ctx.db, token.strip(), via=via)
        state.remember(request, actor)
        return actor
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


def _resolve_or_error(request: Request) -> Actor | LlmloopError | None:
    try:
        return resolve_actor(request)
    except (Unauthenticated, PermissionDenied) as e:
        return e
    finally:
        request.app.state.auth.refreshed(request)


async def authorize(request: Request) -> None:
    """App-wide dependency: authenticate, then the coarse permission check of the route's declaration.

    A credential resolved a moment ago is taken from the cache on the event loop; otherwise the
    database is asked on a worker thread, so a slow store never blocks other requests.
    """
    found: Actor | LlmloopError | None = request.app.state.auth.cached(request)
    if found is None:
        found = await run_in_threadpool(_resolve_or_error, request)
    _check(request, found)


def _check(request: Request, found: Actor | LlmloopError | None) -> None:
    needed = route_permission(request)
    if needed == PUBLIC:
        request.state.actor = ANONYMOUS if found is None or isinstance(found, LlmloopError) else found
        return
    if isinstance(found, LlmloopError):
        raise found
    actor = found
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
        _check(request, _resolve_or_error(request))
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
