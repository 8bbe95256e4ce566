"""``/prompts``: prompt versions, a side-by-side diff, and the playground (render, run, saved as a run)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from llmloop.server.ui.render import View, action, fragment, page
from llmloop.services.prompts.schemas import PromptRunRequest, PromptVersion

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
    """Every version; the diff of ``a`` → ``b`` (default: the last two); the playground's models."""
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
        "can_run": view.can("prompts:write"),
    }


@action(router, "/prompts/{name}/run", "prompts:write")
async def run(view: View, name: str) -> Response:
    """Run the latest version (or ``version``) with the form's variables on the chosen model; saved as a run."""
    form = await view.request.form()
    variables = {k[4:]: str(v) for k, v in form.items() if k.startswith("var:")}
    version = str(form.get("version") or "")
    model = str(form.get("model") or "") or None
    ref = f"{name}@{version}" if version else name
    spec = PromptRunRequest(project=view.project, variables=variables, model=model, save_run=True)
    result = await run_in_threadpool(view.client.prompts.run, ref, spec)
    return fragment(view, "_playground_result.html", {"result": result})
