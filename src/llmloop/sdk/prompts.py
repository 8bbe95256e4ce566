"""``ll.prompts``: create, fetch and render prompt versions from Python (and the CLI).

    import llmloop as ll
    ll.prompts.create("recommend", messages=[{"role": "user", "content": "Trips for {{ who }}?"}],
                      variables={"who": "string"}, params={"temperature": 0.3}, message="first cut")
    ll.prompts.get("recommend@production").render(who="a family")   # -> [{"role": "user", ...}]

Like the rest of the SDK it talks to the embedded store, or to ``/api/v1/prompts`` when
``LLMLOOP_SERVER_URL`` is set; either way the version is compiled and rendered here, in
the caller's process, so a render never costs a round trip.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import quote

from llmloop.config import Settings, get_settings
from llmloop.services.prompts import chains
from llmloop.services.prompts.fewshot import ExampleSource, TokenCounter
from llmloop.services.prompts.render import compile_version
from llmloop.services.prompts.schemas import (
    AliasUpdate,
    PromptCreate,
    PromptDiff,
    PromptPage,
    PromptVersion,
    RenderedPrompt,
    RenderRequest,
)

__all__ = ["Backend", "LocalBackend", "Prompt", "Prompts", "RemoteBackend", "api", "backend", "prompts"]


class Backend(Protocol):
    def create(self, spec: PromptCreate) -> PromptVersion: ...
    def get(self, project: str, ref: str) -> PromptVersion: ...
    def list(self, project: str) -> PromptPage: ...
    def versions(self, project: str, name: str) -> builtins.list[PromptVersion]: ...
    def set_alias(self, project: str, name: str, alias: str, version: int) -> PromptVersion: ...
    def delete_alias(self, project: str, name: str, alias: str) -> None: ...
    def diff(self, project: str, a: str, b: str) -> PromptDiff: ...
    def render(self, ref: str, request: RenderRequest) -> RenderedPrompt: ...


class LocalBackend:
    def __init__(self, settings: Settings) -> None:
        from llmloop.context import local_context

        self.ctx = local_context(settings)

    def create(self, spec: PromptCreate) -> PromptVersion:
        from llmloop.services.prompts import service

        return service.create_prompt_version(self.ctx, spec=spec)

    def get(self, project: str, ref: str) -> PromptVersion:
        from llmloop.services.prompts import service

        return service.get_prompt_version(self.ctx, project=project, ref=ref)

    def list(self, project: str) -> PromptPage:
        from llmloop.services.prompts import service

        return service.list_prompts(self.ctx, project=project)

    def versions(self, project: str, name: str) -> builtins.list[PromptVersion]:
        from llmloop.services.prompts import service

        return service.list_prompt_versions(self.ctx, project=project, name=name)

    def set_alias(self, project: str, name: str, alias: str, version: int) -> PromptVersion:
        from llmloop.services.prompts import service

        return service.set_prompt_alias(self.ctx, project=project, name=name, alias=alias, version=version)

    def delete_alias(self, project: str, name: str, alias: str) -> None:
        from llmloop.services.prompts import service

        service.delete_prompt_alias(self.ctx, project=project, name=name, alias=alias)

    def diff(self, project: str, a: str, b: str) -> PromptDiff:
        from llmloop.services.prompts import service

        return service.diff_prompt_versions(self.ctx, project=project, a=a, b=b)

    def render(self, ref: str, request: RenderRequest) -> RenderedPrompt:
        from llmloop.services.prompts import service

        return service.render_prompt(self.ctx, ref=ref, request=request)


class RemoteBackend:
    def __init__(self, settings: Settings, client: Any = None) -> None:
        from llmloop.sdk.remote import RemoteClient

        self.client = client or RemoteClient(settings)

    def _json(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        kwargs: dict[str, Any] = {"params": {k: v for k, v in params.items() if v is not None}}
        if body is not None:
            kwargs["content"] = body.model_dump_json()
            kwargs["headers"] = {"content-type": "application/json"}
        return self.client._call(method, path, **kwargs)

    def create(self, spec: PromptCreate) -> PromptVersion:
        return PromptVersion.model_validate(self._json("POST", "/prompts", spec))

    def get(self, project: str, ref: str) -> PromptVersion:
        return PromptVersion.model_validate(self._json("GET", f"/prompts/{quote(ref)}", project=project))

    def list(self, project: str) -> PromptPage:
        return PromptPage.model_validate(self._json("GET", "/prompts", project=project))

    def versions(self, project: str, name: str) -> builtins.list[PromptVersion]:
        data = self._json("GET", f"/prompts/{quote(name)}/versions", project=project)
        return [PromptVersion.model_validate(v) for v in data["items"]]

    def set_alias(self, project: str, name: str, alias: str, version: int) -> PromptVersion:
        path = f"/prompts/{quote(name)}/aliases/{quote(alias)}"
        return PromptVersion.model_validate(
            self._json("PUT", path, AliasUpdate(version=version), project=project)
        )

    def delete_alias(self, project: str, name: str, alias: str) -> None:
        self._json("DELETE", f"/prompts/{quote(name)}/aliases/{quote(alias)}", project=project)

    def diff(self, project: str, a: str, b: str) -> PromptDiff:
        name = a.partition("@")[0]
        data = self._json("GET", f"/prompts/{quote(name)}/diff", project=project, **{"from": a, "to": b})
        return PromptDiff.model_validate(data)

    def render(self, ref: str, request: RenderRequest) -> RenderedPrompt:
        return RenderedPrompt.model_validate(self._json("POST", f"/prompts/{quote(ref)}/render", request))


def backend(settings: Settings | None = None) -> Backend:
    settings = settings or get_settings()
    return RemoteBackend(settings) if settings.server_url else LocalBackend(settings)


class Prompt:
    """One prompt version, compiled and ready to render (compiled once per version per process)."""

    def __init__(self, version: PromptVersion) -> None:
        self.version = version
        self._compiled = compile_version(version)

    @property
    def ref(self) -> str:
        return self.version.ref

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._compiled.params)

    @property
    def variable_names(self) -> frozenset[str]:
        return self._compiled.variable_names

    def render(self, **variables: Any) -> list[dict[str, str]]:
        """OpenAI-style messages; raises InvalidInput naming a missing, extra or mistyped variable."""
        return self._compiled.render(**variables)

    def render_text(self, **variables: Any) -> str:
        return self._compiled.render_text(**variables)

    def format(
        self,
        variables: Mapping[str, Any],
        *,
        context_window: int | None = None,
        count_tokens: TokenCounter | None = None,
        example_source: ExampleSource | None = None,
    ) -> RenderedPrompt:
        """Render with the details: params, few-shot examples used and dropped, estimated tokens."""
        return self._compiled.format(
            variables, context_window=context_window, count_tokens=count_tokens, example_source=example_source
        )

    def __repr__(self) -> str:
        return f"<Prompt {self.version.project}/{self.ref} {self.version.kind}>"


class Prompts:
    """``ll.prompts``: the verbs, plus the chain building blocks (``ll.prompts.Chain``, ``PromptStep``, …)."""

    Chain = chains.Chain
    PromptStep = chains.PromptStep
    FunctionStep = chains.FunctionStep
    ParseFailed = chains.ParseFailed
    json_output = staticmethod(chains.json_output)
    regex_output = staticmethod(chains.regex_output)

    def create(
        self,
        name: str,
        *,
        messages: Sequence[Mapping[str, Any]] | None = None,
        template: str | None = None,
        variables: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        few_shot: Mapping[str, Any] | None = None,
        description: str = "",
        message: str = "",
        project: str | None = None,
    ) -> Prompt:
        """Make a new version (or return the latest when nothing changed)."""
        spec = PromptCreate.model_validate(
            {
                "project": project or get_settings().default_project,
                "name": name,
                "messages": list(messages) if messages is not None else None,
                "template": template,
                "variables": dict(variables or {}),
                "params": dict(params or {}),
                "few_shot": dict(few_shot) if few_shot is not None else None,
                "description": description,
                "message": message,
            }
        )
        return Prompt(backend().create(spec))

    def get(self, ref: str, *, project: str | None = None) -> Prompt:
        """``NAME`` (latest), ``NAME@VERSION`` or ``NAME@ALIAS``."""
        return Prompt(backend().get(project or get_settings().default_project, ref))

    def list(self, *, project: str | None = None) -> PromptPage:
        return backend().list(project or get_settings().default_project)

    def versions(self, name: str, *, project: str | None = None) -> builtins.list[PromptVersion]:
        return backend().versions(project or get_settings().default_project, name)

    def set_alias(self, name: str, alias: str, version: int, *, project: str | None = None) -> PromptVersion:
        return backend().set_alias(project or get_settings().default_project, name, alias, version)

    def delete_alias(self, name: str, alias: str, *, project: str | None = None) -> None:
        backend().delete_alias(project or get_settings().default_project, name, alias)

    def diff(self, a: str, b: str, *, project: str | None = None) -> PromptDiff:
        return backend().diff(project or get_settings().default_project, a, b)


api = Prompts()
prompts = api
