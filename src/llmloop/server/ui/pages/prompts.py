"""``/prompts``: prompt versions, a side-by-side diff, and the playground (render, run, saved as a run).

The playground runs on a registered model or on a deployment of the project; a deployment answers
through the app's gateway (its split, guardrails and limits apply, and the trace is the
deployment's), exactly as ``POST /api/v1/prompts/{ref}/run`` runs it.

The playground streams: ``POST /prompts/{name}/stream`` answers NDJSON lines, ``{"delta": text}`` while
the model writes and then ``{"html": fragment}`` (the saved run and trace) or ``{"error": message}``.
``static/app.js`` reads it with ``fetch`` (no inline script: the CSP forbids it). An error found before
the first delta (unknown model, missing variable) is an ordinary error fragment with its status.
``POST /prompts/{name}/run`` is the same call answered whole (htmx without streaming).
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from llmloop.errors import LlmloopError, Unavailable
from llmloop.server.api.prompts import playground_deployments
from llmloop.server.ui.render import View, action, error_page, fragment, page
from llmloop.services.prompts import playground
from llmloop.services.prompts.playground import DeploymentResolver, OnDelta
from llmloop.services.prompts.schemas import PromptRunRequest, PromptRunResult, PromptVersion

router = APIRouter()


def side_by_side(diff: str) -> list[tuple[str, str, str]]:
    """A unified diff as rows of (kind, left, right): kind is same, del, add or change."""
    rows: list[tuple[str, str, str]] = []
    removed: list[str] = []
    added: list[str] = []

    def flush() -> None:
        for i in range(max(len(removed), len(added))):
            left = removed[i] if i < len(removed) else ""
            right = added[i] if i < len(added) else ""
            kind = "change" if left and right else ("del" if left else "add")
            rows.append((kind, left, right))
        removed.clear()
        added.clear()

    for line in diff.splitlines():
        if line.startswith(("---", "+++", "@@")):
            continue
        if line.startswith("-"):
            removed.append(line[1:])
        elif line.startswith("+"):
            added.append(line[1:])
        else:
            flush()
            rows.append(("same", line[1:], line[1:]))
    flush()
    return rows


@page(router, "/prompts", "prompts.html", "prompts:read")
def prompts(view: View) -> dict[str, Any]:
    return {"prompts": view.client.prompts.list_prompts(view.project).items}


def _text(v: PromptVersion) -> str:
    if v.template is not None:
        return v.template
    return "\n".join(f"[{m.role}] {m.content}" for m in v.messages or [])


@page(router, "/prompts/{name}", "prompt.html", "prompts:read")
def prompt(view: View, name: str, a: int | None = None, b: int | None = None) -> dict[str, Any]:
    """Every version; the diff of ``a`` → ``b`` (default: the last two); the playground's models and
    deployments."""
    c = view.client
    versions = c.prompts.list_versions(name, view.project)
    numbers = sorted(v.version for v in versions)
    latest = max(versions, key=lambda v: v.version) if versions else None
    diff = None
    if len(versions) >= 2 or (a and b):
        a = a or numbers[-2]
        b = b or numbers[-1]
        diff = c.prompts.diff_versions(f"{name}@{a}", f"{name}@{b}", view.project)
    return {
        "name": name,
        "versions": versions,
        "latest": latest,
        "texts": {v.version: _text(v) for v in versions},
        "diff": diff,
        "rows": side_by_side(diff.diff) if diff else [],
        "models": [m.name for m in c.models.list_models(view.project)],
        "deployments": [d.name for d in c.deployments.list_deployments(view.project).items]
        if view.can("deployments:invoke")
        else [],
        "can_run": view.can("prompts:write"),
    }


def _request(view: View, name: str, form: FormData) -> tuple[str, PromptRunRequest]:
    """The prompt reference and run request the playground's form asks for (saved as a run)."""
    variables = {k[4:]: str(v) for k, v in form.items() if k.startswith("var:")}
    version = str(form.get("version") or "")
    model = str(form.get("model") or "") or None
    deployment = str(form.get("deployment") or "") or None
    ref = f"{name}@{version}" if version else name
    return ref, PromptRunRequest(
        project=view.project, variables=variables, model=model, deployment=deployment, save_run=True
    )


def _run(
    view: View,
    ref: str,
    spec: PromptRunRequest,
    deployments: DeploymentResolver,
    on_delta: OnDelta | None = None,
) -> PromptRunResult:
    """The playground's call on a worker thread, with the API's own models (``set_model_resolver``)."""
    return playground.run_prompt(
        view.client.ctx,
        ref=ref,
        request=spec,
        resolve_model=getattr(view.request.app.state, "prompt_models", None),
        resolve_deployment=deployments,
        on_delta=on_delta,
    )


@action(router, "/prompts/{name}/run", "prompts:write")
async def run(view: View, name: str) -> Response:
    """Run the latest version (or ``version``) with the form's variables on the chosen model or
    deployment; saved as a run."""
    ref, spec = _request(view, name, await view.request.form())
    result = await run_in_threadpool(_run, view, ref, spec, playground_deployments(view.request))
    return fragment(view, "_playground_result.html", {"result": result})


Event = tuple[str, Any]  # ("delta", text) | ("done", PromptRunResult) | ("error", LlmloopError)


def _work(
    view: View, ref: str, spec: PromptRunRequest, deployments: DeploymentResolver, events: queue.Queue[Event]
) -> None:
    """Run the prompt on this thread, putting each delta, then the result or the error, on ``events``."""
    try:
        result = _run(view, ref, spec, deployments, on_delta=lambda d: events.put(("delta", d)))
        events.put(("done", result))
    except LlmloopError as e:
        events.put(("error", e))
    except Exception as e:  # a bug must still end the stream the page is reading
        events.put(("error", Unavailable(f"the playground failed: {type(e).__name__}: {e}")))


def _line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, ensure_ascii=False) + "\n").encode()


def _lines(view: View, first: Event, events: queue.Queue[Event]) -> Iterator[bytes]:
    event = first
    while True:
        kind, value = event
        if kind == "delta":
            yield _line({"delta": value})
        elif kind == "done":
            html = fragment(view, "_playground_result.html", {"result": value}).body
            yield _line({"html": bytes(html).decode()})
            return
        else:
            yield _line({"error": value.message})
            return
        event = events.get()


@action(router, "/prompts/{name}/stream", "prompts:write")
async def stream(view: View, name: str) -> Response:
    """The playground's run, streamed as NDJSON while the model answers (see the module docstring)."""
    ref, spec = _request(view, name, await view.request.form())
    events: queue.Queue[Event] = queue.Queue()
    deployments = playground_deployments(view.request)
    threading.Thread(target=_work, args=(view, ref, spec, deployments, events), daemon=True).start()
    first = await run_in_threadpool(events.get)
    if first[0] == "error":
        return error_page(view.request, first[1])
    return StreamingResponse(
        _lines(view, first, events),
        media_type="application/x-ndjson",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
