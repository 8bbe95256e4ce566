"""``ll.prompts``: create, fetch and render prompt versions from Python (and the CLI).

    import llmloop as ll
    ll.prompts.create("recommend", messages=[{"role": "user", "content": "Trips for {{ who }}?"}],
                      variables={"who": "string"}, params={"temperature": 0.3}, message="first cut")
    ll.prompts.get("recommend@production").render(who="a family")   # -> [{"role": "user", ...}]

Every call goes through ``llmloop.client.get_client().prompts``: the embedded store, or
``/api/v1/prompts`` when ``LLMLOOP_SERVER_URL`` is set; either way the version is compiled and
rendered here, in the caller's process, so a render never costs a round trip (except to read
the dataset a few-shot prompt takes its examples from, through the same client).
``ll.prompts.create_from_file("recommend.yaml")`` reads the prompt files ``llmloop prompts create -f`` reads.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmloop.client import get_client
from llmloop.config import get_settings
from llmloop.services.prompts import chains
from llmloop.services.prompts.fewshot import ExampleSource, TokenCounter
from llmloop.services.prompts.files import spec_from_file
from llmloop.services.prompts.render import compile_version
from llmloop.services.prompts.schemas import (
    PromptCreate,
    PromptDiff,
    PromptPage,
    PromptVersion,
    RenderedPrompt,
)

if TYPE_CHECKING:
    from llmloop.client.prompts import Prompts as PromptsApi

__all__ = ["Prompt", "Prompts", "api", "prompts"]


def _api() -> PromptsApi:
    """``client.prompts`` of the client the current settings name (looked up per call, never cached here)."""
    return get_client().prompts


def _project(project: str | None) -> str:
    return project or get_settings().default_project


class Prompt:
    """One prompt version, compiled and ready to render (compiled once per version per process).

    A version whose few-shot examples come from a dataset (``few_shot.examples_from``) reads it
    through ``api``, the client's prompts it was fetched through (default: the current client),
    so it renders what the CLI and REST render, locally and against a server.
    """

    def __init__(self, version: PromptVersion, api: PromptsApi | None = None) -> None:
        self.version = version
        self._compiled = compile_version(version)
        self._api = api
        self._from_dataset = version.few_shot is not None and version.few_shot.examples_from is not None

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
        if self._from_dataset:
            return self.format(variables).messages
        return self._compiled.render(**variables)

    def render_text(self, **variables: Any) -> str:
        """The rendered text of a text prompt (InvalidInput for a chat prompt)."""
        if self._from_dataset and self.version.kind == "text":
            return self.render(**variables)[0]["content"]
        return self._compiled.render_text(**variables)

    def format(
        self,
        variables: Mapping[str, Any],
        *,
        context_window: int | None = None,
        count_tokens: TokenCounter | None = None,
        example_source: ExampleSource | None = None,
    ) -> RenderedPrompt:
        """Render with the details: params, few-shot examples used and dropped, estimated tokens.

        ``example_source`` replaces the client's datasets as where ``examples_from`` is read.
        """
        if example_source is None and self._from_dataset:
            example_source = (self._api or _api()).example_source(self.version.project)
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
                "project": _project(project),
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
        api = _api()
        return Prompt(api.create_version(spec), api)

    def create_from_file(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        declare: Iterable[str] = (),
        message: str | None = None,
        project: str | None = None,
    ) -> Prompt:
        """Make a new version from a YAML or JSON prompt file, as ``llmloop prompts create -f`` does.

        The file holds ``messages`` or ``template`` with ``variables``, ``params``, ``few_shot``,
        ``description``, ``message`` (and optionally ``name``, ``project``); the arguments win over
        the file. ``declare`` adds variables as ``NAME`` or ``NAME:TYPE``.
        """
        spec = spec_from_file(
            path,
            name=name,
            project=project,
            default_project=get_settings().default_project,
            declare=declare,
            message=message,
        )
        api = _api()
        return Prompt(api.create_version(spec), api)

    def get(self, ref: str, *, project: str | None = None) -> Prompt:
        """``NAME`` (latest), ``NAME@VERSION`` or ``NAME@ALIAS``."""
        api = _api()
        return Prompt(api.get_version(ref, _project(project)), api)

    def list(self, *, project: str | None = None) -> PromptPage:
        return _api().list_prompts(_project(project))

    def versions(self, name: str, *, project: str | None = None) -> builtins.list[PromptVersion]:
        return _api().list_versions(name, _project(project))

    def set_alias(self, name: str, alias: str, version: int, *, project: str | None = None) -> PromptVersion:
        return _api().set_alias(name, alias, version, _project(project))

    def delete_alias(self, name: str, alias: str, *, project: str | None = None) -> None:
        _api().delete_alias(name, alias, _project(project))

    def diff(self, a: str, b: str, *, project: str | None = None) -> PromptDiff:
        return _api().diff_versions(a, b, _project(project))


api = Prompts()
prompts = api
