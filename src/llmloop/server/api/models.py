"""/api/v1/models: the model registry over HTTP, same schemas as ``ll.models`` and ``llmloop models --json``.

A version in a path is a number, an alias, or ``latest``. A registration names its base as a hub
id, a registered reference or an upstream server; a local folder, GGUF file or adapter folder is
read on the *server*, so it must lie under ``LLMLOOP_DATA_IMPORT_ROOT`` (the datasets import
root), like a server-side dataset import. Gates given as code cannot travel over HTTP, but a
protected alias (``PUT /models/{name}/protections/{alias}``) is gated on every move by the
service, so ``PUT /models/{name}/aliases/{alias}`` answers 409 with the verdict when they fail.
Methods, paths, status codes and permissions come from the route table (``client/models.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from llmloop.refs import validate_name
from llmloop.server.deps import CtxDep
from llmloop.server.routes import mount
from llmloop.services.data.schemas import validated
from llmloop.services.data.service import confine_server_path
from llmloop.services.data.settings import data_settings
from llmloop.services.registry import card, formats, service
from llmloop.services.registry.lineage import model_lineage
from llmloop.services.registry.schemas import (
    AliasHistory,
    AliasProtection,
    AliasProtectionCreate,
    Lineage,
    ModelCard,
    ModelList,
    ModelVersion,
    ModelVersionCreate,
    ModelVersionFields,
    PromoteRequest,
    PromotionResult,
    ProtectionList,
    VersionList,
)

router = APIRouter(prefix="/models", tags=["models"])


def ref_of(name: str, version: str) -> str:
    validate_name(name, what="model name")
    return name if version == "latest" else f"{name}@{version}"


def _server_side(path: str | None) -> str | None:
    """A hub id as is; a local path only inside the server's import root."""
    if path is None or (formats.HUB_ID.fullmatch(path) and not formats.looks_like_path(path)):
        return path
    return str(confine_server_path(path, data_settings().import_root))


@mount(router, "models.list")
def list_models(ctx: CtxDep, project: str | None = None) -> ModelList:
    return ModelList(items=service.list_models(ctx, project=project))


@mount(router, "models.versions")
def list_versions(ctx: CtxDep, name: str, project: str | None = None) -> VersionList:
    return VersionList(items=service.list_versions(ctx, name=name, project=project))


@mount(router, "models.get")
def get_version(ctx: CtxDep, name: str, version: str, project: str | None = None) -> ModelVersion:
    return service.get_model_version(ctx, ref=ref_of(name, version), project=project)


@mount(router, "models.register")
def register_version(
    ctx: CtxDep, name: str, body: ModelVersionFields, project: str | None = None
) -> ModelVersion:
    fields = body.model_dump(exclude_unset=True)
    fields["base"] = _server_side(body.base)
    fields["adapter_dir"] = _server_side(body.adapter_dir)
    spec = validated(
        ModelVersionCreate, project=service.project_or_default(ctx, project), name=name, **fields
    )
    return service.register_model_version(ctx, spec=spec)


@mount(router, "models.promote")
def promote(
    ctx: CtxDep, name: str, alias: str, body: PromoteRequest, project: str | None = None
) -> PromotionResult:
    return service.promote_model(
        ctx,
        ref=ref_of(name, body.version),
        alias=alias,
        project=project,
        reason=body.reason,
        force=body.force,
    )


@mount(router, "models.history")
def alias_history(
    ctx: CtxDep, name: str, project: str | None = None, alias: str | None = None
) -> AliasHistory:
    return AliasHistory(items=service.alias_history(ctx, name=name, project=project, alias=alias))


@mount(router, "models.lineage")
def lineage(ctx: CtxDep, name: str, version: str, project: str | None = None) -> Lineage:
    return model_lineage(ctx, ref=ref_of(name, version), project=project)


@mount(router, "models.card")
def model_card(
    ctx: CtxDep,
    name: str,
    version: str,
    project: str | None = None,
    fmt: str = Query("json", alias="format", pattern="^(json|markdown)$"),
) -> Any:
    """The generated card as JSON (``{ref, markdown}``), or as ``text/markdown`` with ``?format=markdown``."""
    result: ModelCard = card.model_card(ctx, ref=ref_of(name, version), project=project)
    if fmt == "markdown":
        return Response(result.markdown, media_type="text/markdown; charset=utf-8")
    return result


@mount(router, "models.protections")
def list_protections(ctx: CtxDep, name: str, project: str | None = None) -> ProtectionList:
    return ProtectionList(items=service.list_protections(ctx, name=name, project=project))


@mount(router, "models.protect")
def protect(
    ctx: CtxDep, name: str, alias: str, body: AliasProtectionCreate, project: str | None = None
) -> AliasProtection:
    return service.protect_alias(ctx, name=name, alias=alias, spec=body, project=project)


@mount(router, "models.unprotect")
def unprotect(ctx: CtxDep, name: str, alias: str, project: str | None = None) -> None:
    service.unprotect_alias(ctx, name=name, alias=alias, project=project)
