"""How a UI route is declared and answered: ``@page`` (an HTML page and its JSON twin) and ``@action``.

    @page(router, "/runs", "runs.html", "runs:read")
    def runs(view: View, page_token: str | None = None) -> dict[str, Any]:
        return {"runs": view.client.runs.list_runs(view.project, page_token=page_token)}

registers ``GET /runs`` (the template rendered with the dict) and ``GET /runs.json`` (the same
dict as JSON), so the page can never show data its twin lacks. The function reaches the store
only through ``view.client``, a ``LocalClient`` acting as the caller: the same services, checks
and audit as the ``/api/v1`` routes. The permission is the route's coarse check (``authorize``);
the service makes the real per-project one.

Errors render by door: a page gets an HTML error page with the error's status (the login form,
for a caller who is not signed in), a JSON twin the API's envelope, an htmx fragment a small
error block that htmx swaps in (see ``htmx-config`` in ``base.html``).
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from llmloop.client import LocalClient
from llmloop.errors import LlmloopError, NotFound, PermissionDenied, Unauthenticated
from llmloop.security.rbac import Actor
from llmloop.server.auth import CSRF_HEADER, SESSION_COOKIE, permission, request_actor
from llmloop.server.ui.assets import asset_url
from llmloop.validation import format_validation_error

TEMPLATES = Path(__file__).resolve().parent / "templates"
CSRF_COOKIE = "llmloop_csrf"
# scripts and styles from this origin only: no inline script, no inline style, no eval
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
)
NAV = [
    ("/", "Home"),
    ("/datasets", "Datasets"),
    ("/prompts", "Prompts"),
    ("/runs", "Runs"),
    ("/models", "Models"),
    ("/evaluations", "Evaluations"),
    ("/deployments", "Deployments"),
    ("/traces", "Traces"),
    ("/annotate", "Annotate"),
    ("/monitors", "Monitors"),
    ("/pipelines", "Pipelines"),
    ("/admin", "Admin"),
]


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _clip(text: Any, n: int = 120) -> str:
    """A preview: long values are cut so a list never carries whole documents."""
    s = "" if text is None else str(text)
    return s if len(s) <= n else s[: n - 1] + "…"


ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(when=_when, num=_num, clip=_clip)
ENV.globals.update(asset=asset_url, nav=NAV)


@dataclass
class View:
    """What a page function works with: the caller, a client acting as them, and the project shown."""

    request: Request
    actor: Actor
    client: LocalClient
    project: str

    def can(self, permission_name: str) -> bool:
        return self.actor.can(permission_name, self.project)

    @classmethod
    def of(cls, request: Request) -> View:
        actor = request_actor(request)
        ctx = request.app.state.ctx.as_actor(actor)
        project = request.query_params.get("project") or _home_project(actor, ctx.settings.default_project)
        request.state.ui_project = project
        return cls(request=request, actor=actor, client=LocalClient(ctx=ctx), project=project)


def _home_project(actor: Actor, default: str) -> str:
    """The project shown when none is asked for: the default one if the caller has a role there,
    else the first project they have one in."""
    if actor.role_in(default) is not None:
        return default
    return next((p for p in sorted(actor.roles) if p != "*"), default)


def ui_token(request: Request) -> str:
    """The token pages send back as ``X-CSRF-Token`` on every change.

    Signed in, it is the session's CSRF token (kept in a cookie of its own at login; the server
    checks it against the session). In local mode, where no session exists, it is a random token
    of this app, so a page from another site cannot make a loopback change either.
    """
    if getattr(request.app.state, "ui_csrf", None) is None:
        request.app.state.ui_csrf = secrets.token_urlsafe(32)
    if request.cookies.get(SESSION_COOKIE):
        return request.cookies.get(CSRF_COOKIE, "")
    token: str = request.app.state.ui_csrf
    return token


def check_local_csrf(request: Request) -> None:
    """In local mode no session checks the CSRF header, so a UI change checks it here."""
    if request.app.state.auth.enabled or request.headers.get("authorization"):
        return  # a session's header was checked by ``authorize``; a bearer key is not ambient
    sent = request.headers.get(CSRF_HEADER, "")
    if not secrets.compare_digest(sent, ui_token(request)):
        raise PermissionDenied("missing or wrong X-CSRF-Token (reload the page)")


def render_html(request: Request, template: str, data: dict[str, Any], status: int = 200) -> HTMLResponse:
    actor = getattr(request.state, "actor", None)
    signed_in = actor is not None and actor.kind != "anonymous"
    body = ENV.get_template(template).render(
        **data,
        request=request,
        path=request.url.path,
        json_url=_json_url(request),
        csrf=ui_token(request) if signed_in else "",
        actor=actor if signed_in else None,
        project=getattr(request.state, "ui_project", None) or request.app.state.ctx.settings.default_project,
        auth_on=request.app.state.auth.enabled,
    )
    return HTMLResponse(body, status_code=status, headers={"content-security-policy": CSP})


def _json_url(request: Request) -> str:
    path = request.url.path
    twin = ("/index" if path == "/" else path) + ".json"
    return twin + (f"?{request.url.query}" if request.url.query else "")


def error_page(request: Request, err: LlmloopError) -> Response:
    """``err`` as HTML: the login form when not signed in, an error block for htmx, else an error page."""
    if isinstance(err, Unauthenticated) and not request.headers.get("hx-request"):
        nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return render_html(request, "login.html", {"error": "", "next": nxt}, status=401)
    template = "_error.html" if request.headers.get("hx-request") else "error.html"
    return render_html(request, template, {"error": err}, status=err.http_status)


def is_ui_html(request: Request) -> bool:
    """Whether ``request`` was routed to a UI route that answers HTML (not a JSON twin)."""
    route = request.scope.get("route")
    name = str(getattr(route, "name", "") or "")
    return name.startswith("ui.") and not name.endswith(".json")


def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    """``fn``'s parameters after ``view``, with ``request`` first: what FastAPI reads for the endpoint."""
    sig = inspect.signature(fn, eval_str=True)
    params = [p for name, p in sig.parameters.items() if name != "view"]
    request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)
    return sig.replace(parameters=[request, *params], return_annotation=inspect.Signature.empty)


PageFn = Callable[..., dict[str, Any]]


def _data(fn: PageFn, request: Request, params: dict[str, Any]) -> dict[str, Any]:
    """The page function's data; a query value a request schema refuses is the caller's error (400)."""
    try:
        return fn(View.of(request), **params)
    except ValidationError as e:
        raise format_validation_error(e, where="query") from None


def page(
    router: APIRouter,
    path: str,
    template: str,
    needs: str,
    extras: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Callable[[PageFn], PageFn]:
    """Register ``GET path`` (HTML) and ``GET path.json`` (its twin); see the module docstring.

    ``extras`` adds what only the HTML shows, computed from the same data (SVG charts).
    """

    def decorate(fn: PageFn) -> PageFn:
        sig = _signature(fn)
        name = fn.__name__

        def endpoint(request: Request, **params: Any) -> Response:
            return JSONResponse(jsonable_encoder(_data(fn, request, params)))

        def html(request: Request, **params: Any) -> Response:
            try:
                data = _data(fn, request, params)
            except NotFound as e:
                if e.details == {"project": getattr(request.state, "ui_project", None)}:
                    # a project nothing was ever made in (a fresh install's default one), or one the
                    # caller cannot see: the same empty page either way, so it tells nobody which
                    return render_html(request, "empty.html", {})
                return error_page(request, e)
            except LlmloopError as e:
                return error_page(request, e)
            return render_html(request, template, {**data, **(extras(data) if extras else {})})

        json_path = "/index.json" if path == "/" else path + ".json"
        for route_path, call, suffix in ((json_path, endpoint, ".json"), (path, html, "")):
            call.__signature__ = sig  # type: ignore[attr-defined]
            router.add_api_route(
                route_path,
                call,
                methods=["GET"],
                name=f"ui.{name}{suffix}",
                openapi_extra=permission(needs),
                include_in_schema=False,
                response_model=None,
            )
        return fn

    return decorate


ActionFn = Callable[..., Any]


def action(router: APIRouter, path: str, needs: str) -> Callable[[ActionFn], ActionFn]:
    """Register ``POST path``: a change made from a page (htmx), answered with an HTML fragment."""

    def decorate(fn: ActionFn) -> ActionFn:
        async def call(request: Request, **params: Any) -> Response:
            try:
                check_local_csrf(request)
                view = View.of(request)
                if inspect.iscoroutinefunction(fn):
                    answer: Response = await fn(view, **params)
                else:
                    answer = await run_in_threadpool(fn, view, **params)
                return answer
            except ValidationError as e:  # a form that builds an invalid request schema
                return error_page(request, format_validation_error(e, where="form"))
            except LlmloopError as e:
                return error_page(request, e)

        call.__signature__ = _signature(fn)  # type: ignore[attr-defined]
        router.add_api_route(
            path,
            call,
            methods=["POST"],
            name=f"ui.{fn.__name__}",
            openapi_extra=permission(needs),
            include_in_schema=False,
            response_model=None,
        )
        return fn

    return decorate


def fragment(view: View, template: str, data: dict[str, Any], status: int = 200) -> HTMLResponse:
    return render_html(view.request, template, data, status=status)
