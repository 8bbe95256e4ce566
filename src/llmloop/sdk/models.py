"""``ll.models``: the model registry from Python, locally or against a server.

    import llmloop as ll
    base = ll.models.get("smollm2-135m-instruct")            # registers the packaged model on first use
    v = ll.models.register("travel-sft", base_model=base.ref, adapter="out/adapter")
    ll.models.protect("travel-sft", "champion", suite="release.yaml")   # every move runs its gates
    ll.models.promote(v.ref, "champion", reason="beats the baseline")   # Conflict if a gate fails
    print(ll.models.card("travel-sft@champion"))

Every call goes through ``llmloop.client.get_client().models``: with ``LLMLOOP_SERVER_URL`` set it
reaches ``/api/v1/models`` (paths then name files on the server, inside its import root, and gates
given as code cannot travel: protect the alias instead, or promote with gates locally); otherwise
the models service on the embedded store.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmloop.config import get_settings
from llmloop.errors import InvalidInput
from llmloop.services.registry.default import DEFAULT_MODEL
from llmloop.services.registry.schemas import (
    AliasEvent,
    AliasProtection,
    AliasProtectionCreate,
    EntityRef,
    Lineage,
    Model,
    ModelVersion,
    ModelVersionCreate,
    PromotionResult,
    UpstreamSpec,
)

if TYPE_CHECKING:
    from llmloop.client.models import Models as ModelsApi
    from llmloop.services.registry.export import Exported, ExportFormat

__all__ = ["Models", "models"]


def _api() -> ModelsApi:
    """The configured client's models sub-API, looked up per call so a settings change takes effect."""
    from llmloop.client import get_client

    return get_client().models


class Models:
    """The ``ll.models`` namespace; every method takes ``project`` (default: the configured project)."""

    def list(self, *, project: str | None = None) -> builtins.list[Model]:
        """Models of a project, or of every project you may read."""
        return _api().list_models(project)

    def get(self, ref: str, *, project: str | None = None) -> ModelVersion:
        """``NAME`` (latest), ``NAME@N`` or ``NAME@ALIAS``."""
        return _api().get_version(ref, project)

    def versions(self, name: str, *, project: str | None = None) -> builtins.list[ModelVersion]:
        return _api().list_versions(name, project)

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
        quantization: str | None = None,
    ) -> ModelVersion:
        """A new version of ``name`` over one base (folder/GGUF/hub id, registered ref, or upstream), with an optional LoRA adapter.

        ``quantization="int8-dynamic"`` serves the weights int8-quantised by the transformers engine
        (CPU); the same weights registered without it are another version, served apart.
        """
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
            quantization=quantization,
        )
        return _api().register_version(spec)

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
        return _api().register_base(name, path, project, description, license, chat_template)

    def promote(
        self,
        ref: str,
        alias: str,
        *,
        project: str | None = None,
        gates: Sequence[Any] = (),
        reason: str = "",
        force: bool = False,
    ) -> PromotionResult:
        """Point ``NAME@alias`` at ``ref`` if every required gate passes (Conflict otherwise; nothing moves).

        The gates are ``gates`` (code, so only without a server) plus those of the alias's
        protection, if any. ``force`` skips the protection's gates: it needs ``models:force`` (an
        admin) and the move is audited as forced.
        """
        return _api().promote(ref, alias, project, reason, force, gates)

    def protect(
        self,
        name: str,
        alias: str,
        *,
        suite: str | Path,
        baseline_alias: str | None = None,
        project: str | None = None,
        reason: str = "",
    ) -> AliasProtection:
        """Let ``NAME@alias`` move only when the required gates of ``suite`` pass.

        ``suite`` is a YAML file (its text is stored, so later edits change nothing) or the YAML
        text itself; candidates are compared with the holder of ``baseline_alias`` (default: the
        protected alias itself). Needs ``models:protect``.
        """
        text = _suite_text(suite)
        spec = AliasProtectionCreate(suite=text, baseline_alias=baseline_alias, reason=reason)
        return _api().protect(name, alias, spec, project)

    def unprotect(self, name: str, alias: str, *, project: str | None = None) -> None:
        """Let ``NAME@alias`` move without gates again. Needs ``models:protect``."""
        _api().unprotect(name, alias, project)

    def protections(self, name: str, *, project: str | None = None) -> builtins.list[AliasProtection]:
        """The protected aliases of ``name`` with their stored suites."""
        return _api().protections(name, project)

    def export(
        self,
        ref: str,
        out: str | Path,
        *,
        format: ExportFormat = "hf",
        dtype: str = "f16",
        project: str | None = None,
        register_as: str | None = None,
    ) -> Exported:
        """Merge ``ref``'s adapter into its base and write it to ``out`` (local store only)."""
        return _api().export(ref, Path(out), format, dtype, project, register_as)

    def history(
        self, name: str, *, project: str | None = None, alias: str | None = None
    ) -> builtins.list[AliasEvent]:
        """Every alias move of ``name`` (or of one alias), newest first."""
        return _api().alias_history(name, project, alias)

    def lineage(self, ref: str, *, project: str | None = None) -> Lineage:
        return _api().lineage(ref, project)

    def card(self, ref: str, *, project: str | None = None) -> str:
        """The generated Markdown model card."""
        return _api().card(ref, project).markdown


def _suite_text(suite: str | Path) -> str:
    """A suite's YAML text: the file's content when ``suite`` names an existing file, else ``suite`` itself."""
    if isinstance(suite, Path) or "\n" not in suite:
        path = Path(suite)
        if not path.is_file():
            raise InvalidInput(f"suite file not found: {path}", details={"field": "suite", "file": str(path)})
        return path.read_text(encoding="utf-8")
    return suite


models = Models()
