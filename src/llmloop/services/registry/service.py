"""Models service: register immutable model versions, resolve references, move aliases behind gates.

Registration reads and checks everything first (the base's metadata and digest, the adapter's
fit to that base), stores the adapter files in the artifact store, and only then writes the
version, its lineage edges and its audit event in one transaction: a bad input leaves nothing
registered. A promotion runs its gates before touching anything; a failed required gate refuses
the move. A protected alias (``protect_alias``) adds its stored suite's gates to every move of it,
whichever door asked; only ``models:force`` skips them. Every alias move is audited and kept in
``model_alias_events``. (704 lines: registration and promotion share the resolution helpers.)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from llmloop.context import Context
from llmloop.engines.spec import QUANTIZATIONS
from llmloop.errors import Conflict, InvalidInput, NotFound
from llmloop.refs import parse_ref, validate_alias, validate_name
from llmloop.security import audit
from llmloop.security.upstream import check_upstream
from llmloop.services.data.schemas import validated
from llmloop.services.registry import default, formats, protection
from llmloop.services.registry.schemas import (
    AdapterInfo,
    AliasEvent,
    AliasProtection,
    AliasProtectionCreate,
    BaseRef,
    GateResult,
    Model,
    ModelVersion,
    ModelVersionCreate,
    PromotionResult,
    UpstreamSpec,
)
from llmloop.store.aliases import aliases_of, resolve_version, set_alias
from llmloop.store.lineage import Edge, add_edge
from llmloop.store.projects import project_id
from llmloop.store.tables.base import now
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.models import (
    ModelAliasEventRow,
    ModelAliasProtectionRow,
    ModelRow,
    ModelVersionRow,
)
from llmloop.store.tables.tracking import RunRow

ALIAS_KIND = "model"
ENTITY = "model_version"
RESERVED_ALIASES = frozenset({"latest"})
Gate = Callable[[Context, ModelVersion], GateResult]


def project_or_default(ctx: Context, project: str | None) -> str:
    return validate_name(project or ctx.settings.default_project, what="project")


# --- reading ---------------------------------------------------------------------------------------


def _find_model(s: Session, pid: str, name: str) -> ModelRow | None:
    return s.scalar(select(ModelRow).where(ModelRow.project_id == pid, ModelRow.name == name))


def _model_row(s: Session, project: str, name: str) -> ModelRow:
    model = _find_model(s, project_id(s, project), validate_name(name, what="model name"))
    if model is None:
        raise NotFound(f"model {name!r} not found in project {project!r}", details={"name": name})
    return model


def _latest(s: Session, model_id: str) -> int | None:
    return s.scalar(select(func.max(ModelVersionRow.version)).where(ModelVersionRow.model_id == model_id))


def resolve(s: Session, project: str, ref_text: str) -> tuple[ModelRow, ModelVersionRow]:
    """The model and version ``NAME``, ``NAME@V`` or ``NAME@ALIAS`` names in a project."""
    ref = parse_ref(ref_text)
    pid = project_id(s, project)
    model = _find_model(s, pid, ref.name)
    if model is None:
        raise NotFound(f"model {ref.name!r} not found in project {project!r}", details={"ref": ref_text})
    number = resolve_version(s, ref, project_id=pid, kind=ALIAS_KIND, latest=lambda: _latest(s, model.id))
    row = s.scalar(
        select(ModelVersionRow).where(ModelVersionRow.model_id == model.id, ModelVersionRow.version == number)
    )
    if row is None:
        raise NotFound(f"model version {ref.name}@{number} not found", details={"ref": ref_text})
    return model, row


def to_version(s: Session, row: ModelVersionRow, model: ModelRow, project: str) -> ModelVersion:
    aliases = aliases_of(s, project_id=model.project_id, kind=ALIAS_KIND, name=model.name)
    adapter = None
    if row.adapter_sha256 is not None:
        adapter = AdapterInfo(sha256=row.adapter_sha256, size=row.adapter_size or 0, **(row.adapter or {}))
    return ModelVersion(
        id=row.id,
        project=project,
        name=model.name,
        version=row.version,
        ref=f"{model.name}@{row.version}",
        aliases=sorted(a for a, v in aliases.items() if v == row.version),
        base=BaseRef(kind=row.base_kind, uri=row.base_uri, version=row.base_version, sha256=row.base_sha256),
        adapter=adapter,
        architecture=row.architecture,
        parameters=row.parameters,
        quantization=row.quantization,
        context_length=row.context_length,
        chat_template=row.chat_template,
        license=row.license,
        default_engine=row.default_engine,
        upstream=UpstreamSpec.model_validate(row.upstream) if row.upstream else None,
        run_id=row.run_id,
        source=row.source,
        description=row.description,
        metadata=row.meta or {},
        created_at=row.created_at,
        created_by=row.created_by,
    )


def get_model_version(ctx: Context, *, ref: str, project: str | None = None) -> ModelVersion:
    """The version a reference names; the packaged default model registers itself on first use."""
    project = project_or_default(ctx, project)
    ctx.require("models:read", project)
    try:
        with ctx.db.session() as s:
            model, row = resolve(s, project, ref)
            return to_version(s, row, model, project)
    except NotFound:
        if parse_ref(ref).name != default.DEFAULT_MODEL:
            raise
    ensure_default_model(ctx, project=project)
    with ctx.db.session() as s:
        model, row = resolve(s, project, ref)
        return to_version(s, row, model, project)


def _model(s: Session, model: ModelRow, project: str) -> Model:
    count, latest = s.execute(
        select(func.count(), func.max(ModelVersionRow.version)).where(ModelVersionRow.model_id == model.id)
    ).one()
    return Model(
        project=project,
        name=model.name,
        description=model.description,
        latest_version=latest or 0,
        versions=count,
        aliases=aliases_of(s, project_id=model.project_id, kind=ALIAS_KIND, name=model.name),
        created_at=model.created_at,
    )


def list_models(ctx: Context, *, project: str | None = None) -> list[Model]:
    """Models of one project, or of every project the actor may read."""
    with ctx.db.session() as s:
        projects = {pid: name for pid, name in s.execute(select(ProjectRow.id, ProjectRow.name))}
        if project is not None:
            ctx.require("models:read", project)
            try:
                wanted = [project_id(s, project)]
            except NotFound:
                return []
        else:
            wanted = [pid for pid, name in projects.items() if ctx.actor.can("models:read", name)]
        rows = s.scalars(
            select(ModelRow)
            .where(ModelRow.project_id.in_(wanted))
            .order_by(ModelRow.project_id, ModelRow.name)
        )
        return [_model(s, m, projects[m.project_id]) for m in rows]


def list_versions(ctx: Context, *, name: str, project: str | None = None) -> list[ModelVersion]:
    """Every version of a model, newest first."""
    project = project_or_default(ctx, project)
    ctx.require("models:read", project)
    with ctx.db.session() as s:
        model = _model_row(s, project, name)
        rows = s.scalars(
            select(ModelVersionRow)
            .where(ModelVersionRow.model_id == model.id)
            .order_by(ModelVersionRow.version.desc())
        )
        return [to_version(s, r, model, project) for r in rows]


def alias_history(
    ctx: Context, *, name: str, project: str | None = None, alias: str | None = None
) -> list[AliasEvent]:
    """Every alias move of a model (or of one alias), newest first."""
    project = project_or_default(ctx, project)
    ctx.require("models:read", project)
    with ctx.db.session() as s:
        model = _model_row(s, project, name)
        stmt = select(ModelAliasEventRow).where(ModelAliasEventRow.model_id == model.id)
        if alias is not None:
            stmt = stmt.where(ModelAliasEventRow.alias == alias)
        rows = s.scalars(stmt.order_by(ModelAliasEventRow.id.desc()))
        return [
            AliasEvent(
                alias=r.alias,
                from_version=r.from_version,
                to_version=r.to_version,
                reason=r.reason,
                gates=[GateResult.model_validate(g) for g in r.gates or []],
                forced=r.forced,
                actor=r.actor,
                created_at=r.created_at,
            )
            for r in rows
        ]


# --- registering -----------------------------------------------------------------------------------


def _resolve_base(
    ctx: Context, spec: ModelVersionCreate
) -> tuple[formats.BaseInfo, ModelVersion | None, dict[str, Any] | None]:
    """The base's facts, the registered version it builds on (if any), and its adapter row fields to inherit."""
    if spec.upstream is not None:
        return formats.BaseInfo("upstream", spec.upstream.base_url), None, None
    if spec.base is not None:
        return formats.inspect_base(spec.base), None, None
    assert spec.base_model is not None
    parent = get_model_version(ctx, ref=spec.base_model, project=spec.project)
    if parent.adapter is not None and spec.adapter_dir is not None:
        raise InvalidInput(
            f"base_model: {parent.ref} already carries an adapter; stack the two adapters into one, "
            f"or name {parent.ref}'s base ({parent.base.version or parent.base.uri})",
            details={"field": "base_model", "ref": parent.ref},
        )
    with ctx.db.session() as s:
        _, row = resolve(s, spec.project, parent.ref)
        info = formats.BaseInfo(
            kind=row.base_kind,
            uri=row.base_uri,
            sha256=row.base_sha256,
            parameters=row.parameters,
            quantization=row.quantization,
            context_length=row.context_length,
            chat_template=row.chat_template,
            license=row.license,
            shape=formats.Shape.from_dict(row.shape or {}),
        )
        inherited = (
            {"adapter_sha256": row.adapter_sha256, "adapter_size": row.adapter_size, "adapter": row.adapter}
            if row.adapter_sha256 is not None
            else None
        )
    return info, parent, inherited


def _store_adapter(ctx: Context, scan: formats.AdapterScan) -> dict[str, Any]:
    """Each adapter file content-addressed in the artifact store, and a manifest blob that names them."""
    files: dict[str, str] = {}
    size = 0
    for f in scan.files:
        blob = ctx.artifacts.put_file(f)
        files[f.name] = blob.sha256
        size += blob.size
    manifest = json.dumps({"format": "llmloop.adapter/1", "files": files}, sort_keys=True).encode()
    blob = ctx.artifacts.put_bytes(manifest)
    info = {
        "files": files,
        "peft_type": scan.peft_type,
        "rank": scan.rank,
        "alpha": scan.alpha,
        "target_modules": scan.target_modules,
        "parameters": scan.parameters,
    }
    return {"adapter_sha256": blob.sha256, "adapter_size": size, "adapter": info}


def _default_engine(kind: str, spec: ModelVersionCreate, *, has_adapter: bool) -> str:
    """GGUF runs on llama.cpp, upstreams on their server; a PEFT adapter needs transformers (or vLLM)."""
    if spec.default_engine is not None:
        return spec.default_engine
    if spec.quantization is not None:  # asked for at load time: only its engine applies it
        return QUANTIZATIONS[spec.quantization]
    if kind == "gguf" and not has_adapter:
        return "llamacpp"
    if kind == "upstream":
        return "vllm" if has_adapter else "openai"  # of the upstreams, vLLM loads LoRA adapters
    return "transformers"


def _upstream(spec: ModelVersionCreate, parent: ModelVersion | None) -> dict[str, Any] | None:
    """The upstream server a version is served by: its own, or the one of the version it builds on."""
    upstream = spec.upstream or (parent.upstream if parent is not None else None)
    return upstream.model_dump(mode="json") if upstream is not None else None


def _built_on(parent: ModelVersion | None) -> str | None:
    """The registered adapter-free version a new one builds on (a copy of an adapted version keeps its root)."""
    if parent is None:
        return None
    return parent.base.version if parent.adapter is not None else parent.ref


def register_model_version(ctx: Context, *, spec: ModelVersionCreate) -> ModelVersion:
    """Check ``spec`` in full, store its adapter, then record ``NAME@N`` with its lineage in one transaction."""
    validate_name(spec.name, what="model name")
    validate_name(spec.project, what="project")
    ctx.require("models:write", spec.project)
    info, parent, inherited = _resolve_base(ctx, spec)
    return _register(ctx, spec, info, parent, inherited)


def _register(
    ctx: Context,
    spec: ModelVersionCreate,
    info: formats.BaseInfo,
    parent: ModelVersion | None,
    inherited: dict[str, Any] | None,
) -> ModelVersion:
    upstream = spec.upstream or (parent.upstream if parent is not None else None)
    if upstream is not None:  # the version will forward this key for its author: they must be allowed to
        check_upstream(
            ctx,
            project=spec.project,
            url=upstream.base_url,
            secret=upstream.api_key_secret,
            env=upstream.api_key_env,
            where="upstream",
        )
    if spec.run_id is not None:
        with ctx.db.session() as s:
            if s.get(RunRow, spec.run_id) is None:
                raise NotFound(f"run_id: run {spec.run_id!r} not found", details={"run_id": spec.run_id})
    adapter_fields = inherited
    if spec.adapter_dir is not None:
        label = parent.ref if parent is not None else info.uri
        adapter_fields = _store_adapter(
            ctx, formats.inspect_adapter(Path(spec.adapter_dir), info.shape, base_label=label)
        )
    for attempt in range(5):
        try:
            return _insert_version(ctx, spec, info, parent, adapter_fields or {})
        except Conflict:  # another writer took the version number (or created the model): try again
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _insert_version(
    ctx: Context,
    spec: ModelVersionCreate,
    info: formats.BaseInfo,
    parent: ModelVersion | None,
    adapter: dict[str, Any],
) -> ModelVersion:
    with ctx.db.session() as s:
        pid = project_id(s, spec.project, create=True)
        model = s.scalar(
            select(ModelRow).where(ModelRow.project_id == pid, ModelRow.name == spec.name).with_for_update()
        )  # locked: a base registered by two processes at once becomes one version
        same = _same_base(s, model, info) if model is not None and spec.source == "base" else None
        if same is not None:
            return to_version(s, same, model, spec.project)  # type: ignore[arg-type]
        if model is None:
            model = ModelRow(
                id=uuid.uuid4().hex,
                project_id=pid,
                name=spec.name,
                description=spec.description,
                created_by=ctx.actor.id,
            )
            s.add(model)
            s.flush()
        row = ModelVersionRow(
            id=uuid.uuid4().hex,
            model_id=model.id,
            version=(_latest(s, model.id) or 0) + 1,
            base_kind=info.kind,
            base_uri=info.uri,
            base_version=_built_on(parent),
            base_sha256=info.sha256,
            adapter_sha256=adapter.get("adapter_sha256"),
            adapter_size=adapter.get("adapter_size"),
            adapter=adapter.get("adapter") or {},
            architecture=info.shape.architecture,
            parameters=info.parameters,
            quantization=spec.quantization or info.quantization,
            context_length=info.context_length,
            chat_template=spec.chat_template or info.chat_template,
            license=spec.license or info.license,
            default_engine=_default_engine(info.kind, spec, has_adapter=bool(adapter)),
            upstream=_upstream(spec, parent),
            shape=info.shape.as_dict(),
            run_id=spec.run_id,
            source=spec.source,
            description=spec.description,
            meta=spec.metadata,
            created_by=ctx.actor.id,
        )
        s.add(row)
        s.flush()
        _record_lineage(s, row, spec, parent)
        version = to_version(s, row, model, spec.project)
        after = {
            "base": info.uri,
            "base_sha256": info.sha256,
            "adapter_sha256": row.adapter_sha256,
            "run_id": spec.run_id,
        }
        audit.record(s, ctx, "models.register", f"model:{version.ref}", after=after, project=spec.project)
        return version


def _record_lineage(
    s: Session, row: ModelVersionRow, spec: ModelVersionCreate, parent: ModelVersion | None
) -> None:
    if spec.run_id is not None:
        add_edge(s, Edge("run", spec.run_id, "produced", ENTITY, row.id))
    for ref in spec.inputs:
        add_edge(s, Edge(ref.type, ref.id, ref.relation, ENTITY, row.id))
    if parent is not None:
        add_edge(s, Edge(ENTITY, parent.id, "base_of", ENTITY, row.id))
    elif row.base_sha256 is not None:
        kind = "gguf_file" if row.base_kind == "gguf" else "model_dir"
        add_edge(s, Edge(kind, row.base_sha256, "base_of", ENTITY, row.id))


def register_base(
    ctx: Context,
    *,
    name: str,
    path: str,
    project: str | None = None,
    description: str = "",
    license: str | None = None,
    chat_template: str | None = None,
) -> ModelVersion:
    """``models add-base``: a local HF folder, GGUF file or hub id as ``name``; the same content again is found, not re-added."""
    project = project_or_default(ctx, project)
    ctx.require("models:write", project)
    info = formats.inspect_base(path)
    spec = validated(
        ModelVersionCreate,
        project=project,
        name=validate_name(name, what="model name"),
        base=info.uri,
        source="base",
        description=description,
        license=license,
        chat_template=chat_template,
    )
    return _register(ctx, spec, info, None, None)


def _same_base(s: Session, model: ModelRow, info: formats.BaseInfo) -> ModelVersionRow | None:
    """The newest adapter-free version of ``model`` over exactly this base, if any."""
    return s.scalar(
        select(ModelVersionRow)
        .where(
            ModelVersionRow.model_id == model.id,
            ModelVersionRow.base_kind == info.kind,
            ModelVersionRow.base_sha256 == info.sha256
            if info.sha256
            else ModelVersionRow.base_uri == info.uri,
            ModelVersionRow.adapter_sha256.is_(None),
        )
        .order_by(ModelVersionRow.version.desc())
        .limit(1)
    )


def ensure_default_model(ctx: Context, *, project: str | None = None) -> ModelVersion:
    """Register the packaged SmolLM2 GGUF as ``smollm2-135m-instruct`` in ``project`` (once)."""
    project = project_or_default(ctx, project)
    ctx.require("models:read", project)
    gguf = default.packaged_gguf()
    admin = ctx.as_actor(
        replace(ctx.actor, roles={**ctx.actor.roles, project: "maintainer"}, max_role=None)
    )  # reading the default model must not need models:write
    for attempt in range(3):
        try:
            return register_base(
                admin,
                name=default.DEFAULT_MODEL,
                path=str(gguf),
                project=project,
                description=default.DESCRIPTION,
            )
        except Conflict:  # another process registered it at the same moment
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


# --- promoting -------------------------------------------------------------------------------------


def _check_alias(alias: str) -> str:
    validate_alias(alias)
    if alias.lower() in RESERVED_ALIASES:
        raise InvalidInput(
            f"invalid alias {alias!r}: it is reserved", details={"field": "alias", "value": alias}
        )
    return alias


def _run_gates(ctx: Context, version: ModelVersion, gates: Sequence[Gate]) -> list[GateResult]:
    results = []
    for gate in gates:
        answer = gate(ctx, version)
        if not isinstance(answer, GateResult):
            try:
                answer = GateResult.model_validate(answer, from_attributes=True)
            except ValueError as e:
                raise InvalidInput(
                    f"gate {getattr(gate, '__name__', gate)!r} returned {type(answer).__name__}, not a GateResult",
                    details={"gate": str(getattr(gate, "__name__", gate))},
                ) from e
        results.append(answer)
    return results


def promote_model(
    ctx: Context,
    *,
    ref: str,
    alias: str,
    project: str | None = None,
    gates: Sequence[Gate] = (),
    reason: str = "",
    force: bool = False,
) -> PromotionResult:
    """Point ``NAME@alias`` at the version ``ref`` names, if every required gate passes.

    The gates are ``gates`` plus, when the alias is protected, its stored suite's (compared with
    the holder of the protection's baseline alias), so the rule holds whichever door the request
    came through. They run first, outside any transaction (an evaluation can take minutes); a
    failed required gate raises Conflict with every gate's answer in ``details["gates"]`` and
    changes nothing. ``force`` skips a protection's gates: it needs ``models:force`` and the move
    is recorded as forced. A move is recorded in the alias history with its reason and gate
    results, and in the audit log.
    """
    project = project_or_default(ctx, project)
    _check_alias(alias)
    ctx.require("models:promote", project)
    if force:
        ctx.require("models:force", project)
        if gates:
            raise InvalidInput("force skips gates: pass gates or force, not both", details={"field": "force"})
    version = get_model_version(ctx, ref=ref, project=project)
    guard = _guard(ctx, project, version.name, alias)
    if guard is not None and not force:
        gates = [*gates, protection.gate(guard.protection)]
    results = _run_gates(ctx, version, gates)
    failed = [r for r in results if r.required and not r.passed]
    if failed:
        why = "; ".join(f"{r.name}: {r.message}" for r in failed)
        raise Conflict(
            f"{version.ref} was not promoted to {version.name}@{alias}: {why}",
            details={
                "ref": version.ref,
                "alias": alias,
                "protected": guard is not None,
                "gates": [r.model_dump(mode="json") for r in results],
            },
        )
    with ctx.db.session() as s:
        model, row = resolve(s, project, version.ref)
        if guard is not None and not force:
            _still(s, model, alias, guard)
        before = set_alias(
            s, project_id=model.project_id, kind=ALIAS_KIND, name=model.name, alias=alias, version=row.version
        )
        s.add(
            ModelAliasEventRow(
                model_id=model.id,
                alias=alias,
                from_version=before,
                to_version=row.version,
                reason=reason[:2000],
                gates=[r.model_dump(mode="json") for r in results],
                forced=force,
                actor=ctx.actor.id,
            )
        )
        s.flush()
        after = {
            "version": row.version,
            "reason": reason,
            "gates": {r.name: r.passed for r in results},
            "forced": force,
        }
        if force and guard is not None:
            after["skipped_suite"] = guard.protection.suite_name
        audit.record(
            s,
            ctx,
            "models.promote",
            f"model:{model.name}@{alias}",
            {"version": before},
            after,
            project=project,
        )
    return PromotionResult(
        promoted=True, ref=version.ref, alias=alias, previous=before, gates=results, forced=force
    )


@dataclass(frozen=True)
class _Guard:
    """A protection as a promotion found it, and the version its alias pointed at then."""

    protection: AliasProtection
    holder: int | None


def _guard(ctx: Context, project: str, name: str, alias: str) -> _Guard | None:
    with ctx.db.session() as s:
        model = _find_model(s, project_id(s, project), name)
        found = protection.find(s, model_id=model.id, alias=alias) if model is not None else None
        if model is None or found is None:
            return None
        holder = aliases_of(s, project_id=model.project_id, kind=ALIAS_KIND, name=name).get(alias)
        return _Guard(protection.to_protection(found, project=project, name=name), holder)


def _still(s: Session, model: ModelRow, alias: str, guard: _Guard) -> None:
    """Refuse the move if the protection or the alias's holder changed while the gates ran."""
    current = protection.find(s, model_id=model.id, alias=alias)
    holder = aliases_of(s, project_id=model.project_id, kind=ALIAS_KIND, name=model.name).get(alias)
    if current is None or current.suite_sha256 != guard.protection.suite_sha256 or holder != guard.holder:
        raise Conflict(
            f"{model.name}@{alias} changed while its gates ran (its protection or its holder); promote again",
            details={"alias": alias, "holder": holder, "was": guard.holder},
        )


# --- protecting ------------------------------------------------------------------------------------


def protect_alias(
    ctx: Context,
    *,
    name: str,
    alias: str,
    spec: AliasProtectionCreate,
    project: str | None = None,
) -> AliasProtection:
    """Declare (or replace) the suite whose required gates every move of ``NAME@alias`` must pass.

    The suite is checked in full first (valid YAML and keys, gates that parse, no local files)
    and stored as its text; the model must exist. Audited as ``models.protect``.
    """
    project = project_or_default(ctx, project)
    _check_alias(alias)
    baseline = _check_alias(spec.baseline_alias or alias)
    ctx.require("models:protect", project)
    suite = protection.checked_suite(spec.suite, source=f"suite for {name}@{alias}")
    with ctx.db.session() as s:
        model = _model_row(s, project, name)
        row = protection.find(s, model_id=model.id, alias=alias)
        before = {"suite_sha256": row.suite_sha256, "baseline_alias": row.baseline_alias} if row else None
        if row is None:
            row = ModelAliasProtectionRow(model_id=model.id, alias=alias)
            s.add(row)
        row.suite = spec.suite
        row.suite_name = suite.name[:256]
        row.suite_sha256 = protection.digest(spec.suite)
        row.baseline_alias = baseline
        row.reason = spec.reason
        row.created_at = now()
        row.created_by = ctx.actor.id
        s.flush()
        after = {"suite": suite.name, "suite_sha256": row.suite_sha256, "baseline_alias": baseline}
        audit.record(
            s, ctx, "models.protect", f"model:{model.name}@{alias}", before, {**after, "reason": spec.reason},
            project=project,
        )  # fmt: skip
        return protection.to_protection(row, project=project, name=model.name)


def unprotect_alias(ctx: Context, *, name: str, alias: str, project: str | None = None) -> None:
    """Remove the protection of ``NAME@alias`` (NotFound if it has none). Audited as ``models.unprotect``."""
    project = project_or_default(ctx, project)
    _check_alias(alias)
    ctx.require("models:protect", project)
    with ctx.db.session() as s:
        model = _model_row(s, project, name)
        row = protection.find(s, model_id=model.id, alias=alias)
        if row is None:
            raise NotFound(f"{name}@{alias} is not protected", details={"name": name, "alias": alias})
        before = {
            "suite": row.suite_name,
            "suite_sha256": row.suite_sha256,
            "baseline_alias": row.baseline_alias,
        }
        s.delete(row)
        s.flush()
        audit.record(s, ctx, "models.unprotect", f"model:{model.name}@{alias}", before, None, project=project)


def list_protections(ctx: Context, *, name: str, project: str | None = None) -> list[AliasProtection]:
    """The protected aliases of a model, by alias."""
    project = project_or_default(ctx, project)
    ctx.require("models:read", project)
    with ctx.db.session() as s:
        model = _model_row(s, project, name)
        rows = s.scalars(
            select(ModelAliasProtectionRow)
            .where(ModelAliasProtectionRow.model_id == model.id)
            .order_by(ModelAliasProtectionRow.alias)
        )
        return [protection.to_protection(r, project=project, name=model.name) for r in rows]
