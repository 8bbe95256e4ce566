"""/api/v1/models: the model registry over HTTP, same schemas as ``ll.models`` and ``llmloop models --json``.

A version in a path is a number, an alias, or ``latest``. A registration names its base as a hub
id, a registered reference or an upstream server; a local folder, GGUF file or adapter folder is
read on the *server*, so it must lie under ``LLMLOOP_DATA_IMPORT_ROOT`` (the datasets import
root), like a server-side dataset import. Promotion over HTTP has no gates: gates are code
(``promote_model(..., gates=[...])``, ``llmloop models promote --gate``) run where the store is.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from llmloop.refs import validate_name
from llmloop.server.auth import permission
from llmloop.server.deps import CtxDep
from llmloop.services.data.schemas import validated
from llmloop.services.data.service import confine_server_path
from llmloop.services.data.settings import data_settings
from llmloop.services.registry import card, formats, service
from llmloop.services.registry.schemas import (
    AliasEvent,
    Lineage,
    Model,
    ModelCard,
    ModelVersion,
    ModelVersionCreate,
    ModelVersionFields,
    PromotionResult,
)

router = APIRouter(prefix="/models", tags=["models"])


class ModelList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[Model]


class VersionList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ModelVersion]


class AliasHistory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[AliasEvent]


class PromoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(description="A version number, an alias, or 'latest'.")
    reason: str = Field("", max_length=2000)


def ref_of(name: str, version: str) -> str:
    validate_name(name, what="model name")
    return name if version == "latest" else f"{name}@{version}"


def _server_side(path: str | None) -> str | None:
    """A hub id as is; a local path only inside the server's import root."""
    if path is None or (formats.HUB_ID.fullmatch(path) and not formats.looks_like_path(path)):
        return path
    return str(confine_server_path(path, data_settings().import_root))


@router.get("", response_model=ModelList, openapi_extra=permission("models:read"))
def list_models(ctx: CtxDep, project: str | None = None) -> ModelList:
    return ModelList(items=service.list_models(ctx, project=project))


@router.get("/{name}/versions", response_model=VersionList, openapi_extra=permission("models:read"))
def list_versions(ctx: CtxDep, name: str, project: str | None = None) -> VersionList:
    return VersionList(items=service.list_versions(ctx, name=name, project=project))


@router.get(
    "/{name}/versions/{version}", response_model=ModelVersion, openapi_extra=permission("models:read")
)
def get_version(ctx: CtxDep, name: str, version: str, project: str | None = None) -> ModelVersion:
    return service.get_model_version(ctx, ref=ref_of(name, version), project=project)


@router.post(
    "/{name}/versions", response_model=ModelVersion, status_code=201, openapi_extra=permission("models:write")
)
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


@router.put(
    "/{name}/aliases/{alias}", response_model=PromotionResult, openapi_extra=permission("models:promote")
)
def promote(
    ctx: CtxDep, name: str, alias: str, body: PromoteRequest, project: str | None = None
) -> PromotionResult:
    return service.promote_model(
        ctx, ref=ref_of(name, body.version), alias=alias, project=project, reason=body.reason
    )


@router.get("/{name}/aliases", response_model=AliasHistory, openapi_extra=permission("models:read"))
def alias_history(
    ctx: CtxDep, name: str, project: str | None = None, alias: str | None = None
) -> AliasHistory:
    return AliasHistory(items=service.alias_history(ctx, name=name, project=project, alias=alias))


@router.get(
    "/{name}/versions/{version}/lineage", response_model=Lineage, openapi_extra=permission("models:read")
)
def lineage(ctx: CtxDep, name: str, version: str, project: str | None = None) -> Lineage:
    return card.model_lineage(ctx, ref=ref_of(name, version), project=project)


@router.get("/{name}/versions/{version}/card", openapi_extra=permission("models:read"))
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
