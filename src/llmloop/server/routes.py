"""Mount a REST endpoint from the route table (``llmloop.client.table``), never from a path typed here.

    @mount(router, "runs.get")
    def get_run(ctx: CtxDep, run_id: str) -> Response: ...

The route's method, path, status, response model and permission come from the table, so the
endpoint and ``RemoteClient``'s call are the same entry; the endpoint's name in the app is the
route's name, which is how the route-table test finds every mounted route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter

from llmloop.client.table import route
from llmloop.server.auth import permission

F = TypeVar("F", bound=Callable[..., Any])


def mount(router: APIRouter, name: str, **extra: Any) -> Callable[[F], F]:
    """Register the decorated function as the endpoint of route ``name`` on ``router``."""
    r = route(name)
    prefix = router.prefix
    if not r.path.startswith(prefix):
        raise ValueError(f"route {name}: path {r.path} is not under the router's prefix {prefix}")
    options: dict[str, Any] = {"status_code": r.status, "openapi_extra": permission(r.permission)}
    if r.response is not None:
        options["response_model"] = r.response
    if r.summary:
        options["summary"] = r.summary
    options.update(extra)

    def decorate(fn: F) -> F:
        # the OpenAPI operation id stays ``{tag}-{function}``, as for routes declared by hand, so
        # generated clients keep their method names
        tag = str(router.tags[0]) if router.tags else "default"
        options.setdefault("operation_id", f"{tag}-{getattr(fn, '__name__', name)}")
        router.api_route(r.path.removeprefix(prefix), methods=[r.method], name=name, **options)(fn)
        return fn

    return decorate
