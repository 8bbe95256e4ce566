"""Prompt registry service: create immutable versions, resolve references, move aliases, diff, render.

A version is compiled and trial-rendered *before* the transaction opens, so a template
with a syntax error or a sandbox violation leaves the store untouched. Variables the
templates use undeclared are stored as inferred strings, so a version lists every variable
it needs. Creating a version whose content equals the latest one returns that version
instead of adding a duplicate, so applying the same file twice is harmless.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from llmloop.context import Context
from llmloop.errors import InvalidInput, NotFound
from llmloop.refs import Ref, parse_ref, validate_alias, validate_name
from llmloop.security import audit
from llmloop.services.prompts.diff import diff_versions
from llmloop.services.prompts.fewshot import ExampleSource
from llmloop.services.prompts.render import CompiledPrompt, compile_version
from llmloop.services.prompts.schemas import (
    PromptCreate,
    PromptDiff,
    PromptPage,
    PromptSummary,
    PromptVersion,
    RenderedPrompt,
    RenderRequest,
)
from llmloop.store.aliases import aliases_of, remove_alias, resolve_version, set_alias
from llmloop.store.projects import project_id
from llmloop.store.tables.base import now
from llmloop.store.tables.core import AliasRow
from llmloop.store.tables.prompts import PromptRow, PromptVersionRow

KIND = "prompt"


def spec_document(spec: PromptCreate) -> dict[str, Any]:
    """What a version stores and hashes: its definition, without project, name or commit message."""
    return {
        "messages": [m.model_dump(mode="json") for m in spec.messages] if spec.messages is not None else None,
        "template": spec.template,
        "variables": {k: v.model_dump(mode="json") for k, v in spec.variables.items()},
        "params": spec.params.model_dump(mode="json", exclude_none=True),
        "few_shot": spec.few_shot.model_dump(mode="json") if spec.few_shot is not None else None,
        "description": spec.description,
    }


def content_hash(document: dict[str, Any]) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _to_version(row: PromptVersionRow, *, project: str, name: str, aliases: dict[str, int]) -> PromptVersion:
    doc = row.spec
    return PromptVersion.model_validate(
        {
            "id": row.id,
            "project": project,
            "name": name,
            "version": row.version,
            "kind": row.kind,
            "messages": doc.get("messages"),
            "template": doc.get("template"),
            "variables": doc.get("variables") or {},
            "params": doc.get("params") or {},
            "few_shot": doc.get("few_shot"),
            "description": doc.get("description", ""),
            "message": row.message,
            "content_hash": row.content_hash,
            "created_at": row.created_at,
            "created_by": row.created_by,
            "aliases": sorted(a for a, v in aliases.items() if v == row.version),
        }
    )


def create_prompt_version(ctx: Context, *, spec: PromptCreate) -> PromptVersion:
    """Validate, compile and trial-render the spec, then store it as the next version of its prompt."""
    validate_name(spec.project, what="project")
    validate_name(spec.name, what="prompt name")
    ctx.require("prompts:write", spec.project)
    compiled = CompiledPrompt(
        ref=f"{spec.name}@new",
        messages=spec.messages,
        template=spec.template,
        variables=spec.variables,
        params=spec.params,
        few_shot=spec.few_shot,
    )
    spec = spec.model_copy(update={"variables": compiled.variables})
    doc = spec_document(spec)
    digest = content_hash(doc)
    t = now()
    with ctx.db.session() as s:
        pid = project_id(s, spec.project, create=True)
        prompt = s.scalar(
            select(PromptRow)
            .where(PromptRow.project_id == pid, PromptRow.name == spec.name)
            .with_for_update()
        )
        if prompt is None:
            prompt = PromptRow(
                id=uuid.uuid4().hex,
                project_id=pid,
                name=spec.name,
                latest_version=0,
                created_at=t,
                updated_at=t,
                created_by=ctx.actor.id,
            )
            s.add(prompt)
            s.flush()
        else:
            latest = _version_row(s, prompt, prompt.latest_version)
            if latest is not None and latest.content_hash == digest:
                return _to_version(
                    latest, project=spec.project, name=spec.name, aliases=_aliases(s, pid, spec.name)
                )
        prompt.latest_version += 1
        prompt.updated_at = t
        row = PromptVersionRow(
            id=uuid.uuid4().hex,
            prompt_id=prompt.id,
            version=prompt.latest_version,
            kind="chat" if spec.messages is not None else "text",
            spec=doc,
            content_hash=digest,
            message=spec.message,
            created_at=t,
            created_by=ctx.actor.id,
        )
        s.add(row)
        s.flush()
        after = {"version": row.version, "content_hash": digest}
        audit.record(s, ctx, "prompts.create", f"prompt:{spec.name}", after=after, project=spec.project)
        return _to_version(row, project=spec.project, name=spec.name, aliases={})


def _version_row(s: Session, prompt: PromptRow, version: int) -> PromptVersionRow | None:
    return s.scalar(
        select(PromptVersionRow).where(
            PromptVersionRow.prompt_id == prompt.id, PromptVersionRow.version == version
        )
    )


def _aliases(s: Session, pid: str, name: str) -> dict[str, int]:
    return aliases_of(s, project_id=pid, kind=KIND, name=name)


def _prompt(s: Session, ctx: Context, project: str, name: str) -> tuple[str, PromptRow]:
    ctx.require("prompts:read", project)
    pid = project_id(s, project)
    prompt = s.scalar(select(PromptRow).where(PromptRow.project_id == pid, PromptRow.name == name))
    if prompt is None:
        raise NotFound(f"prompt {name!r} not found in project {project!r}", details={"prompt": name})
    return pid, prompt


def _resolve(s: Session, ctx: Context, project: str, ref: Ref) -> PromptVersion:
    pid, prompt = _prompt(s, ctx, project, ref.name)
    number = resolve_version(s, ref, project_id=pid, kind=KIND, latest=lambda: prompt.latest_version or None)
    row = _version_row(s, prompt, number)
    if row is None:
        raise NotFound(f"prompt {ref.name!r} has no version {number}", details={"ref": str(ref)})
    return _to_version(row, project=project, name=prompt.name, aliases=_aliases(s, pid, prompt.name))


def get_prompt_version(ctx: Context, *, project: str, ref: str) -> PromptVersion:
    """The version ``NAME``, ``NAME@VERSION`` or ``NAME@ALIAS`` means."""
    parsed = parse_ref(ref)
    with ctx.db.session() as s:
        return _resolve(s, ctx, project, parsed)


def list_prompts(ctx: Context, *, project: str) -> PromptPage:
    ctx.require("prompts:read", project)
    with ctx.db.session() as s:
        pid = project_id(s, project)
        prompts = list(
            s.scalars(select(PromptRow).where(PromptRow.project_id == pid).order_by(PromptRow.name))
        )
        aliases: dict[str, dict[str, int]] = {}
        for a in s.scalars(select(AliasRow).where(AliasRow.project_id == pid, AliasRow.kind == KIND)):
            aliases.setdefault(a.name, {})[a.alias] = a.version
        latest = {
            r.prompt_id: r
            for r in s.scalars(
                select(PromptVersionRow)
                .join(PromptRow, PromptRow.id == PromptVersionRow.prompt_id)
                .where(PromptRow.project_id == pid, PromptVersionRow.version == PromptRow.latest_version)
            )
        }
        return PromptPage(
            items=[
                PromptSummary(
                    project=project,
                    name=p.name,
                    latest_version=p.latest_version,
                    description=str(latest[p.id].spec.get("description", "")) if p.id in latest else "",
                    aliases=aliases.get(p.name, {}),
                    updated_at=p.updated_at,
                )
                for p in prompts
            ]
        )


def list_prompt_versions(ctx: Context, *, project: str, name: str) -> list[PromptVersion]:
    """Every version of a prompt, newest first."""
    with ctx.db.session() as s:
        pid, prompt = _prompt(s, ctx, project, name)
        aliases = _aliases(s, pid, name)
        rows = s.scalars(
            select(PromptVersionRow)
            .where(PromptVersionRow.prompt_id == prompt.id)
            .order_by(PromptVersionRow.version.desc())
        )
        return [_to_version(r, project=project, name=name, aliases=aliases) for r in rows]


def set_prompt_alias(ctx: Context, *, project: str, name: str, alias: str, version: int) -> PromptVersion:
    """Point ``NAME@ALIAS`` at an existing version (``production``, ``staging``, …)."""
    validate_alias(alias)
    if str(alias).isdigit():
        raise InvalidInput(f"alias {alias!r} would read as a version number", details={"alias": alias})
    ctx.require("prompts:write", project)
    with ctx.db.session() as s:
        pid, prompt = _prompt(s, ctx, project, name)
        row = _version_row(s, prompt, version)
        if row is None:
            raise NotFound(f"prompt {name!r} has no version {version}", details={"ref": f"{name}@{version}"})
        before = _aliases(s, pid, name).get(alias)
        set_alias(s, project_id=pid, kind=KIND, name=name, alias=alias, version=version)
        s.flush()
        audit.record(
            s,
            ctx,
            "prompts.alias",
            f"prompt:{name}@{alias}",
            None if before is None else {"version": before},
            {"version": version},
            project=project,
        )
        return _to_version(row, project=project, name=name, aliases=_aliases(s, pid, name))


def delete_prompt_alias(ctx: Context, *, project: str, name: str, alias: str) -> None:
    ctx.require("prompts:write", project)
    with ctx.db.session() as s:
        pid, _ = _prompt(s, ctx, project, name)
        aliases = _aliases(s, pid, name)
        if alias not in aliases:
            raise NotFound(f"prompt alias {name}@{alias} not found", details={"ref": f"{name}@{alias}"})
        remove_alias(s, project_id=pid, kind=KIND, name=name, alias=alias)
        before = {"version": aliases[alias]}
        audit.record(s, ctx, "prompts.unalias", f"prompt:{name}@{alias}", before, None, project=project)


def diff_prompt_versions(ctx: Context, *, project: str, a: str, b: str) -> PromptDiff:
    """What changed from reference ``a`` to ``b``; a bare number ``b`` is a version of ``a``'s prompt."""
    ref_a = parse_ref(a)
    ref_b = parse_ref(f"{ref_a.name}@{b}" if b.isdigit() else b)
    with ctx.db.session() as s:
        va = _resolve(s, ctx, project, ref_a)
        vb = _resolve(s, ctx, project, ref_b)
    changed, text = diff_versions(va, vb)
    return PromptDiff(project=project, from_ref=va.ref, to_ref=vb.ref, changed=changed, diff=text)


def render_prompt(ctx: Context, *, ref: str, request: RenderRequest) -> RenderedPrompt:
    version = get_prompt_version(ctx, project=request.project, ref=ref)
    return compile_version(version).format(
        request.variables,
        context_window=request.context_window,
        example_source=dataset_examples(ctx, project=request.project),
    )


Messages = list[dict[str, str]]


def row_renderer(
    ctx: Context, *, project: str, ref: str
) -> tuple[PromptVersion, Callable[[Mapping[str, Any]], Messages]]:
    """A prompt version pinned once, as a function of a row's variables: the one renderer.

    Training rows, evaluation rows and an app's requests all go through this, so a model is asked
    exactly the text it learned from. Only the variables the prompt declares are passed (the prompt
    rejects others), so a dataset row may carry more fields than the prompt uses.
    """
    version = get_prompt_version(ctx, project=project, ref=ref)
    compiled = compile_version(version)
    declared = set(version.variables or {})
    examples = dataset_examples(ctx, project=project)

    def render(variables: Mapping[str, Any]) -> Messages:
        rendered = compiled.format(
            {k: v for k, v in variables.items() if k in declared}, example_source=examples
        )
        return [{"role": m["role"], "content": m["content"]} for m in rendered.messages]

    return version, render


def dataset_examples(ctx: Context, *, project: str) -> ExampleSource:
    """``few_shot.examples_from`` resolved through the datasets service, with the caller's permissions."""
    from llmloop.services.data.examples import example_source

    return example_source(ctx, project=project)
