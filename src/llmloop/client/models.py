"""``client.models``: the model registry (versions, aliases, protections, lineage, cards), in-process or over ``/api/v1/models``.

A version in a path is a number, an alias, or ``latest``; ``split_ref`` turns ``NAME@X`` into the
two path parameters. Gates given as code (``promote(..., gates=[fn])``) run only where the store
is; the gates of a protected alias are stored in the store and run by the service on every move,
so a remote promotion of a protected alias is gated exactly like a local one.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from llmloop.client.routes import Route
from llmloop.errors import InvalidInput
from llmloop.services.registry.schemas import (
    AliasEvent,
    AliasHistory,
    AliasProtection,
    AliasProtectionCreate,
    Lineage,
    Model,
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

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context
    from llmloop.services.registry.export import Exported, ExportFormat
    from llmloop.services.registry.service import Gate

VERSION = "/models/{name}/versions/{version}"
ROUTES = [
    Route("models.list", "GET", "/models", "models:read", ModelList),
    Route("models.versions", "GET", "/models/{name}/versions", "models:read", VersionList),
    Route("models.get", "GET", VERSION, "models:read", ModelVersion),
    Route(
        "models.register",
        "POST",
        "/models/{name}/versions",
        "models:write",
        ModelVersion,
        ModelVersionFields,
        status=201,
    ),
    Route(
        "models.promote",
        "PUT",
        "/models/{name}/aliases/{alias}",
        "models:promote",
        PromotionResult,
        PromoteRequest,
    ),
    Route("models.history", "GET", "/models/{name}/aliases", "models:read", AliasHistory),
    Route("models.lineage", "GET", VERSION + "/lineage", "models:read", Lineage),
    Route(
        "models.card",
        "GET",
        VERSION + "/card",
        "models:read",
        ModelCard,
        summary="The generated card as JSON ({ref, markdown}), or as text/markdown with ?format=markdown.",
    ),
    Route("models.protections", "GET", "/models/{name}/protections", "models:read", ProtectionList),
    Route(
        "models.protect",
        "PUT",
        "/models/{name}/protections/{alias}",
        "models:protect",
        AliasProtection,
        AliasProtectionCreate,
    ),
    Route(
        "models.unprotect", "DELETE", "/models/{name}/protections/{alias}", "models:protect", None, status=204
    ),
]


def split_ref(ref: str) -> dict[str, str]:
    """``NAME@X`` as the path parameters ``name`` and ``version`` (``latest`` for a bare ``NAME``)."""
    name, _, version = ref.partition("@")
    return {"name": name, "version": version or "latest"}


class Models(Protocol):
    """The verbs of ``client.models``; ``project`` None is the configured default project."""

    def list_models(self, project: str | None = None) -> builtins.list[Model]: ...
    def list_versions(self, name: str, project: str | None = None) -> builtins.list[ModelVersion]: ...
    def get_version(self, ref: str, project: str | None = None) -> ModelVersion: ...
    def register_version(self, spec: ModelVersionCreate) -> ModelVersion: ...
    def register_base(
        self,
        name: str,
        path: str,
        project: str | None = None,
        description: str = "",
        license: str | None = None,
        chat_template: str | None = None,
    ) -> ModelVersion: ...
    def promote(
        self,
        ref: str,
        alias: str,
        project: str | None = None,
        reason: str = "",
        force: bool = False,
        gates: Sequence[Gate] = (),
    ) -> PromotionResult: ...
    def alias_history(
        self, name: str, project: str | None = None, alias: str | None = None
    ) -> builtins.list[AliasEvent]: ...
    def lineage(self, ref: str, project: str | None = None) -> Lineage: ...
    def card(self, ref: str, project: str | None = None) -> ModelCard: ...
    def protect(
        self, name: str, alias: str, spec: AliasProtectionCreate, project: str | None = None
    ) -> AliasProtection: ...
    def unprotect(self, name: str, alias: str, project: str | None = None) -> None: ...
    def protections(self, name: str, project: str | None = None) -> builtins.list[AliasProtection]: ...
    def export(
        self,
        ref: str,
        out: Path,
        format: ExportFormat = "hf",
        dtype: str = "f16",
        project: str | None = None,
        register_as: str | None = None,
    ) -> Exported: ...


class LocalModels:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def list_models(self, project: str | None = None) -> builtins.list[Model]:
        from llmloop.services.registry import service

        return service.list_models(self.ctx, project=project)

    def list_versions(self, name: str, project: str | None = None) -> builtins.list[ModelVersion]:
        from llmloop.services.registry import service

        return service.list_versions(self.ctx, name=name, project=project)

    def get_version(self, ref: str, project: str | None = None) -> ModelVersion:
        from llmloop.services.registry import service

        return service.get_model_version(self.ctx, ref=ref, project=project)

    def register_version(self, spec: ModelVersionCreate) -> ModelVersion:
        from llmloop.services.registry import service

        return service.register_model_version(self.ctx, spec=spec)

    def register_base(
        self,
        name: str,
        path: str,
        project: str | None = None,
        description: str = "",
        license: str | None = None,
        chat_template: str | None = None,
    ) -> ModelVersion:
        from llmloop.services.registry import service

        return service.register_base(
            self.ctx,
            name=name,
            path=path,
            project=project,
            description=description,
            license=license,
            chat_template=chat_template,
        )

    def promote(
        self,
        ref: str,
        alias: str,
        project: str | None = None,
        reason: str = "",
        force: bool = False,
        gates: Sequence[Gate] = (),
    ) -> PromotionResult:
        from llmloop.services.registry import service

        return service.promote_model(
            self.ctx, ref=ref, alias=alias, project=project, gates=gates, reason=reason, force=force
        )

    def alias_history(
        self, name: str, project: str | None = None, alias: str | None = None
    ) -> builtins.list[AliasEvent]:
        from llmloop.services.registry import service

        return service.alias_history(self.ctx, name=name, project=project, alias=alias)

    def lineage(self, ref: str, project: str | None = None) -> Lineage:
        from llmloop.services.registry import lineage

        return lineage.model_lineage(self.ctx, ref=ref, project=project)

    def card(self, ref: str, project: str | None = None) -> ModelCard:
        from llmloop.services.registry import card

        return card.model_card(self.ctx, ref=ref, project=project)

    def protect(
        self, name: str, alias: str, spec: AliasProtectionCreate, project: str | None = None
    ) -> AliasProtection:
        from llmloop.services.registry import service

        return service.protect_alias(self.ctx, name=name, alias=alias, spec=spec, project=project)

    def unprotect(self, name: str, alias: str, project: str | None = None) -> None:
        from llmloop.services.registry import service

        service.unprotect_alias(self.ctx, name=name, alias=alias, project=project)

    def protections(self, name: str, project: str | None = None) -> builtins.list[AliasProtection]:
        from llmloop.services.registry import service

        return service.list_protections(self.ctx, name=name, project=project)

    def export(
        self,
        ref: str,
        out: Path,
        format: ExportFormat = "hf",
        dtype: str = "f16",
        project: str | None = None,
        register_as: str | None = None,
    ) -> Exported:
        from llmloop.services.registry.export import export_version

        return export_version(
            self.ctx, ref=ref, out=out, format=format, dtype=dtype, project=project, register_as=register_as
        )


class RemoteModels:
    def __init__(self, http: Http) -> None:
        self.http = http

    def list_models(self, project: str | None = None) -> builtins.list[Model]:
        page: ModelList = self.http.call("models.list", query={"project": project})
        return page.items

    def list_versions(self, name: str, project: str | None = None) -> builtins.list[ModelVersion]:
        page: VersionList = self.http.call("models.versions", path={"name": name}, query={"project": project})
        return page.items

    def get_version(self, ref: str, project: str | None = None) -> ModelVersion:
        version: ModelVersion = self.http.call("models.get", path=split_ref(ref), query={"project": project})
        return version

    def register_version(self, spec: ModelVersionCreate) -> ModelVersion:
        body = spec.model_dump(mode="json", exclude={"project", "name"}, exclude_none=True)
        version: ModelVersion = self.http.call(
            "models.register", path={"name": spec.name}, query={"project": spec.project}, body=body
        )
        return version

    def register_base(
        self,
        name: str,
        path: str,
        project: str | None = None,
        description: str = "",
        license: str | None = None,
        chat_template: str | None = None,
    ) -> ModelVersion:
        """A base read on the server (a hub id, or a path inside its import root); the same content is found again."""
        fields = {"license": license, "chat_template": chat_template}
        body = {"base": path, "source": "base", "description": description}
        body.update({k: v for k, v in fields.items() if v})
        version: ModelVersion = self.http.call(
            "models.register", path={"name": name}, query={"project": project}, body=body
        )
        return version

    def promote(
        self,
        ref: str,
        alias: str,
        project: str | None = None,
        reason: str = "",
        force: bool = False,
        gates: Sequence[Gate] = (),
    ) -> PromotionResult:
        if gates:
            raise InvalidInput(
                "gates are code and run where the store is: promote with gates without LLMLOOP_SERVER_URL, "
                "or protect the alias (llmloop models protect) so the server runs its suite on every move",
                details={"field": "gates"},
            )
        where = split_ref(ref)
        body = PromoteRequest(version=where["version"], reason=reason, force=force)
        result: PromotionResult = self.http.call(
            "models.promote",
            path={"name": where["name"], "alias": alias},
            query={"project": project},
            body=body,
        )
        return result

    def alias_history(
        self, name: str, project: str | None = None, alias: str | None = None
    ) -> builtins.list[AliasEvent]:
        page: AliasHistory = self.http.call(
            "models.history", path={"name": name}, query={"project": project, "alias": alias}
        )
        return page.items

    def lineage(self, ref: str, project: str | None = None) -> Lineage:
        lineage: Lineage = self.http.call("models.lineage", path=split_ref(ref), query={"project": project})
        return lineage

    def card(self, ref: str, project: str | None = None) -> ModelCard:
        card: ModelCard = self.http.call("models.card", path=split_ref(ref), query={"project": project})
        return card

    def protect(
        self, name: str, alias: str, spec: AliasProtectionCreate, project: str | None = None
    ) -> AliasProtection:
        done: AliasProtection = self.http.call(
            "models.protect", path={"name": name, "alias": alias}, query={"project": project}, body=spec
        )
        return done

    def unprotect(self, name: str, alias: str, project: str | None = None) -> None:
        self.http.call("models.unprotect", path={"name": name, "alias": alias}, query={"project": project})

    def protections(self, name: str, project: str | None = None) -> builtins.list[AliasProtection]:
        page: ProtectionList = self.http.call(
            "models.protections", path={"name": name}, query={"project": project}
        )
        return page.items

    def export(
        self,
        ref: str,
        out: Path,
        format: ExportFormat = "hf",
        dtype: str = "f16",
        project: str | None = None,
        register_as: str | None = None,
    ) -> Exported:
        raise InvalidInput(
            "export merges weights and writes them where the store is: run it without LLMLOOP_SERVER_URL",
            details={"field": "out"},
        )
