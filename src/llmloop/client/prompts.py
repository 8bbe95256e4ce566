"""``client.prompts``: the prompt registry and the playground, in-process or over ``/api/v1/prompts``.

A ``project`` of ``None`` means the default project of the side that holds the store (the local
settings, or the server's). References are ``NAME``, ``NAME@VERSION`` or ``NAME@ALIAS``.

``example_source(project)`` is how a prompt rendered in the caller's process (``ll.prompts``)
reads the dataset its few-shot examples come from (``few_shot.examples_from``): through the
datasets service in-process, through the server's ``/api/v1/datasets`` remotely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict

from llmloop.client.routes import Route
from llmloop.services.prompts.schemas import (
    AliasUpdate,
    PromptCreate,
    PromptDiff,
    PromptPage,
    PromptRunRequest,
    PromptRunResult,
    PromptVersion,
    RenderedPrompt,
    RenderRequest,
)

if TYPE_CHECKING:
    from llmloop.client.datasets import Datasets
    from llmloop.client.http import Http
    from llmloop.context import Context
    from llmloop.services.prompts.fewshot import ExampleSet, ExampleSource


class PromptVersionList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[PromptVersion]


ROUTES = [
    Route("prompts.list", "GET", "/prompts", "prompts:read", PromptPage),
    Route("prompts.create", "POST", "/prompts", "prompts:write", PromptVersion, PromptCreate, status=201),
    Route("prompts.get", "GET", "/prompts/{ref}", "prompts:read", PromptVersion),
    Route("prompts.versions", "GET", "/prompts/{name}/versions", "prompts:read", PromptVersionList),
    Route("prompts.diff", "GET", "/prompts/{name}/diff", "prompts:read", PromptDiff),
    Route("prompts.set_alias", "PUT", "/prompts/{name}/aliases/{alias}", "prompts:write", PromptVersion, AliasUpdate),
    Route("prompts.delete_alias", "DELETE", "/prompts/{name}/aliases/{alias}", "prompts:write", status=204),
    Route("prompts.render", "POST", "/prompts/{ref}/render", "prompts:read", RenderedPrompt, RenderRequest),
    Route("prompts.run", "POST", "/prompts/{ref}/run", "prompts:write", PromptRunResult, PromptRunRequest),
]  # fmt: skip


class Prompts(Protocol):
    """The verbs of ``client.prompts``."""

    def create_version(self, spec: PromptCreate) -> PromptVersion: ...
    def get_version(self, ref: str, project: str | None = None) -> PromptVersion: ...
    def list_prompts(self, project: str | None = None) -> PromptPage: ...
    def list_versions(self, name: str, project: str | None = None) -> list[PromptVersion]: ...
    def set_alias(self, name: str, alias: str, version: int, project: str | None = None) -> PromptVersion: ...
    def delete_alias(self, name: str, alias: str, project: str | None = None) -> None: ...
    def diff_versions(self, a: str, b: str, project: str | None = None) -> PromptDiff:
        """``a`` → ``b``; a bare number ``b`` is a version of ``a``'s prompt."""
        ...

    def render(self, ref: str, request: RenderRequest) -> RenderedPrompt: ...
    def run(self, ref: str, request: PromptRunRequest) -> PromptRunResult:
        """Render ``ref`` and call a registered model on it (the playground); traced, optionally saved as a run."""
        ...

    def example_source(self, project: str | None = None) -> ExampleSource:
        """``few_shot.examples_from`` references resolved in ``project``'s datasets, with this client's rights."""
        ...


class LocalPrompts:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _project(self, project: str | None) -> str:
        return project or self.ctx.settings.default_project

    def create_version(self, spec: PromptCreate) -> PromptVersion:
        from llmloop.services.prompts import service

        return service.create_prompt_version(self.ctx, spec=spec)

    def get_version(self, ref: str, project: str | None = None) -> PromptVersion:
        from llmloop.services.prompts import service

        return service.get_prompt_version(self.ctx, project=self._project(project), ref=ref)

    def list_prompts(self, project: str | None = None) -> PromptPage:
        from llmloop.services.prompts import service

        return service.list_prompts(self.ctx, project=self._project(project))

    def list_versions(self, name: str, project: str | None = None) -> list[PromptVersion]:
        from llmloop.services.prompts import service

        return service.list_prompt_versions(self.ctx, project=self._project(project), name=name)

    def set_alias(self, name: str, alias: str, version: int, project: str | None = None) -> PromptVersion:
        from llmloop.services.prompts import service

        return service.set_prompt_alias(
            self.ctx, project=self._project(project), name=name, alias=alias, version=version
        )

    def delete_alias(self, name: str, alias: str, project: str | None = None) -> None:
        from llmloop.services.prompts import service

        service.delete_prompt_alias(self.ctx, project=self._project(project), name=name, alias=alias)

    def diff_versions(self, a: str, b: str, project: str | None = None) -> PromptDiff:
        from llmloop.services.prompts import service

        return service.diff_prompt_versions(self.ctx, project=self._project(project), a=a, b=b)

    def render(self, ref: str, request: RenderRequest) -> RenderedPrompt:
        from llmloop.services.prompts import service

        return service.render_prompt(self.ctx, ref=ref, request=request)

    def run(self, ref: str, request: PromptRunRequest) -> PromptRunResult:
        from llmloop.services.prompts import playground
        from llmloop.services.registry.inference import prompt_model_resolver

        return playground.run_prompt(
            self.ctx, ref=ref, request=request, resolve_model=prompt_model_resolver(self.ctx)
        )

    def example_source(self, project: str | None = None) -> ExampleSource:
        from llmloop.services.prompts import service

        return service.dataset_examples(self.ctx, project=self._project(project))


class RemotePrompts:
    def __init__(self, http: Http) -> None:
        self.http = http

    def create_version(self, spec: PromptCreate) -> PromptVersion:
        version: PromptVersion = self.http.call("prompts.create", body=spec)
        return version

    def get_version(self, ref: str, project: str | None = None) -> PromptVersion:
        version: PromptVersion = self.http.call("prompts.get", path={"ref": ref}, query={"project": project})
        return version

    def list_prompts(self, project: str | None = None) -> PromptPage:
        page: PromptPage = self.http.call("prompts.list", query={"project": project})
        return page

    def list_versions(self, name: str, project: str | None = None) -> list[PromptVersion]:
        page: PromptVersionList = self.http.call(
            "prompts.versions", path={"name": name}, query={"project": project}
        )
        return page.items

    def set_alias(self, name: str, alias: str, version: int, project: str | None = None) -> PromptVersion:
        target: PromptVersion = self.http.call(
            "prompts.set_alias",
            path={"name": name, "alias": alias},
            query={"project": project},
            body=AliasUpdate(version=version),
        )
        return target

    def delete_alias(self, name: str, alias: str, project: str | None = None) -> None:
        self.http.call(
            "prompts.delete_alias", path={"name": name, "alias": alias}, query={"project": project}
        )

    def diff_versions(self, a: str, b: str, project: str | None = None) -> PromptDiff:
        """The route reads ``from``/``to`` as versions of the path's prompt unless they hold an ``@``.
        A bare name means that prompt's latest version (``a`` always, ``b`` unless a number), so it
        is resolved to a full reference first, as the service would."""
        name = a.partition("@")[0]

        def spelled(ref: str) -> str:
            return ref if "@" in ref else self.get_version(ref, project).ref

        query = {"from": spelled(a), "to": b if b.isdigit() else spelled(b), "project": project}
        diff: PromptDiff = self.http.call("prompts.diff", path={"name": name}, query=query)
        return diff

    def render(self, ref: str, request: RenderRequest) -> RenderedPrompt:
        rendered: RenderedPrompt = self.http.call("prompts.render", path={"ref": ref}, body=request)
        return rendered

    def run(self, ref: str, request: PromptRunRequest) -> PromptRunResult:
        result: PromptRunResult = self.http.call("prompts.run", path={"ref": ref}, body=request)
        return result

    def example_source(self, project: str | None = None) -> ExampleSource:
        from llmloop.client.datasets import RemoteDatasets

        return examples_through(RemoteDatasets(self.http), project)


def examples_through(datasets: Datasets, project: str | None) -> ExampleSource:
    """An example source reading dataset versions through a datasets client: its version, then its rows."""
    from llmloop.services.data.examples import check_example_rows
    from llmloop.services.prompts.fewshot import ExampleSet

    def resolve(ref: str) -> ExampleSet:
        version = datasets.get_version(ref, project)
        check_example_rows(ref, version)
        rows = [row for batch in datasets.iter_batches(version) for row in batch.to_pylist()]
        return ExampleSet(key=version.content_hash, rows=rows)

    return resolve
