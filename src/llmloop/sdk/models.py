"""``ll.models``: the model registry from Python, locally or against a server.

    import llmloop as ll
    base = ll.models.get("smollm2-135m-instruct")            # registers the packaged model on first use
    v = ll.models.register("travel-sft", base_model=base.ref, adapter="out/adapter")
    ll.models.promote(v.ref, "champion", gates=[my_gate], reason="beats the baseline")
    print(ll.models.card("travel-sft@champion"))

With ``LLMLOOP_SERVER_URL`` set the same calls go to ``/api/v1/models`` (paths then name files on
the server, inside its import root, and gates cannot travel: promote with gates locally);
otherwise they call the models service on the embedded store.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import quote

from llmloop.config import get_settings
from llmloop.errors import InvalidInput
from llmloop.services.registry.default import DEFAULT_MODEL
from llmloop.services.registry.schemas import (
    AliasEvent,
    EntityRef,
    Lineage,
    Model,
    ModelCard,
    ModelVersion,
    ModelVersionCreate,
    PromotionResult,
    UpstreamSpec,
)

__all__ = ["Models", "models"]


class Backend(Protocol):
    def call(self, op: str, **kwargs: Any) -> Any: ...


class _Local:
    def __init__(self) -> None:
        from llmloop.context import local_context

        self.ctx = local_context()

    def call(self, op: str, **kwargs: Any) -> Any:
        from llmloop.services.registry import card, service

        module = card if op in ("model_lineage", "model_card") else service
        return getattr(module, op)(self.ctx, **kwargs)


def _split(ref: str) -> tuple[str, str]:
    name, _, version = ref.partition("@")
    return quote(name), quote(version or "latest")


class _Remote:
    def __init__(self) -> None:
        from llmloop.sdk.remote import RemoteClient

        self.client = RemoteClient(get_settings())

    def _call(self, method: str, path: str, project: str | None, **kwargs: Any) -> Any:
        params = {"project": project} if project else {}
        return self.client._call(
            method, f"/models{path}", params={**params, **kwargs.pop("params", {})}, **kwargs
        )

    def call(self, op: str, **kw: Any) -> Any:
        project = kw.get("project")
        if op == "list_models":
            return [Model.model_validate(m) for m in self._call("GET", "", project)["items"]]
        if op == "list_versions":
            items = self._call("GET", f"/{quote(kw['name'])}/versions", project)["items"]
            return [ModelVersion.model_validate(v) for v in items]
        if op == "get_model_version":
            name, v = _split(kw["ref"])
            return ModelVersion.model_validate(self._call("GET", f"/{name}/versions/{v}", project))
        if op == "register_model_version":
            spec: ModelVersionCreate = kw["spec"]
            body = spec.model_dump(mode="json", exclude={"project", "name"}, exclude_none=True)
            data = self._call("POST", f"/{quote(spec.name)}/versions", spec.project, json=body)
            return ModelVersion.model_validate(data)
        if op == "register_base":
            body = {"base": kw["path"], "source": "base", "description": kw.get("description", "")}
            body.update({k: kw[k] for k in ("license", "chat_template") if kw.get(k)})
            data = self._call("POST", f"/{quote(kw['name'])}/versions", project, json=body)
            return ModelVersion.model_validate(data)
        if op == "promote_model":
            if kw.get("gates"):
                raise InvalidInput(
                    "gates are code and run where the store is: promote with gates without LLMLOOP_SERVER_URL",
                    details={"field": "gates"},
                )
            name, v = _split(kw["ref"])
            body = {"version": v, "reason": kw.get("reason", "")}
            data = self._call("PUT", f"/{name}/aliases/{quote(kw['alias'])}", project, json=body)
            return PromotionResult.model_validate(data)
        if op == "alias_history":
            params = {"alias": kw["alias"]} if kw.get("alias") else {}
            items = self._call("GET", f"/{quote(kw['name'])}/aliases", project, params=params)["items"]
            return [AliasEvent.model_validate(e) for e in items]
        if op in ("model_lineage", "model_card"):
            name, v = _split(kw["ref"])
            route, schema = ("lineage", Lineage) if op == "model_lineage" else ("card", ModelCard)
            return schema.model_validate(self._call("GET", f"/{name}/versions/{v}/{route}", project))
        raise NotImplementedError(op)


def _backend() -> Backend:
    return _Remote() if get_settings().server_url else _Local()


class Models:
    """The ``ll.models`` namespace; every method takes ``project`` (default: the configured project)."""

    def list(self, *, project: str | None = None) -> builtins.list[Model]:
        """Models of a project, or of every project you may read."""
        result: builtins.list[Model] = _backend().call("list_models", project=project)
        return result

    def get(self, ref: str, *, project: str | None = None) -> ModelVersion:
        """``NAME`` (latest), ``NAME@N`` or ``NAME@ALIAS``."""
        result: ModelVersion = _backend().call("get_model_version", ref=ref, project=project)
        return result

    def versions(self, name: str, *, project: str | None = None) -> builtins.list[ModelVersion]:
        result: builtins.list[ModelVersion] = _backend().call("list_versions", name=name, project=project)
        return result

    def register(
        self,
        name: str,
        *,
        base: str | None = None,
        base_model: str | None = None,
        adapter: str | None = None,
        upstream: UpstreamSpec | dict[str, Any] | None = None,
        project: str | None = None,
        run_id: str | None = None,
        description: str = "",
        inputs: Sequence[EntityRef] = (),
        metadata: dict[str, Any] | None = None,
        license: str | None = None,
        chat_template: str | None = None,
        default_engine: str | None = None,
    ) -> ModelVersion:
        """A new version of ``name`` over one base (folder/GGUF/hub id, registered ref, or upstream), with an optional LoRA adapter."""
        from llmloop.services.data.schemas import validated

        spec = validated(
            ModelVersionCreate,
            project=project or get_settings().default_project,
            name=name,
            base=base,
            base_model=base_model,
            upstream=upstream,
            adapter_dir=adapter,
            run_id=run_id,
            description=description,
            inputs=list(inputs),
            metadata=metadata or {},
            license=license,
            chat_template=chat_template,
            default_engine=default_engine,
        )
        result: ModelVersion = _backend().call("register_model_version", spec=spec)
        return result

    def add_base(
        self,
        name: str = DEFAULT_MODEL,
        path: str | None = None,
        *,
        project: str | None = None,
        description: str = "",
        license: str | None = None,
        chat_template: str | None = None,
    ) -> ModelVersion:
        """Register a local HF folder or GGUF file as a base model; without ``path``, the packaged default."""
        if path is None:
            if name != DEFAULT_MODEL:
                raise InvalidInput(
                    f"add_base {name!r}: name a folder or GGUF file", details={"field": "path"}
                )
            return self.get(DEFAULT_MODEL, project=project)
        result: ModelVersion = _backend().call(
            "register_base",
            name=name,
            path=path,
            project=project,
            description=description,
            license=license,
            chat_template=chat_template,
        )
        return result

    def promote(
        self,
        ref: str,
        alias: str,
        *,
        project: str | None = None,
        gates: Sequence[Any] = (),
        reason: str = "",
    ) -> PromotionResult:
        """Point ``NAME@alias`` at ``ref`` if every required gate passes (Conflict otherwise; nothing moves)."""
        result: PromotionResult = _backend().call(
            "promote_model", ref=ref, alias=alias, project=project, gates=list(gates), reason=reason
        )
        return result

    def history(
        self, name: str, *, project: str | None = None, alias: str | None = None
    ) -> builtins.list[AliasEvent]:
        """Every alias move of ``name`` (or of one alias), newest first."""
        result: builtins.list[AliasEvent] = _backend().call(
            "alias_history", name=name, project=project, alias=alias
        )
        return result

    def lineage(self, ref: str, *, project: str | None = None) -> Lineage:
        result: Lineage = _backend().call("model_lineage", ref=ref, project=project)
        return result

    def card(self, ref: str, *, project: str | None = None) -> str:
        """The generated Markdown model card."""
        result: ModelCard = _backend().call("model_card", ref=ref, project=project)
        return result.markdown


models = Models()
