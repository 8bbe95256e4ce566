"""Registered model versions answering through the engines: the one path from a reference to text.

Evaluation, distillation teachers, the playground, ``ll.chat`` and the gateway all call here, so
a reference means the same weights everywhere: ``NAME@ALIAS`` is pinned to one version, the
version becomes a ``ModelSpec`` (``loading.model_spec``), and ``llmloop.engines.load_engine``
returns a cached engine for it (loaded lazily, released when idle).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from llmloop.context import Context
from llmloop.engines import load_engine
from llmloop.engines.protocol import InferenceEngine
from llmloop.engines.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    EmbeddingResponse,
    TextCompletion,
    collect_chat,
    collect_completion,
)
from llmloop.errors import InvalidInput
from llmloop.services.registry.loading import model_spec
from llmloop.services.registry.schemas import ModelVersion
from llmloop.services.registry.service import get_model_version


def engine_for(
    ctx: Context, *, model: str, project: str | None = None, engine: str | None = None
) -> tuple[ModelVersion, InferenceEngine]:
    """The pinned version ``model`` names and a loaded engine serving it (``engine`` overrides the default)."""
    version = get_model_version(ctx, ref=model, project=project or ctx.settings.default_project)
    return version, load_engine(model_spec(ctx, version), engine)


def stream_chat(
    ctx: Context, *, model: str, request: ChatRequest, engine: str | None = None, project: str | None = None
) -> Iterator[ChatCompletionChunk]:
    return engine_for(ctx, model=model, project=project, engine=engine)[1].chat(request)


def chat(
    ctx: Context, *, model: str, request: ChatRequest, engine: str | None = None, project: str | None = None
) -> ChatCompletion:
    return collect_chat(stream_chat(ctx, model=model, request=request, engine=engine, project=project))


def complete(
    ctx: Context,
    *,
    model: str,
    request: CompletionRequest,
    engine: str | None = None,
    project: str | None = None,
) -> TextCompletion:
    _, eng = engine_for(ctx, model=model, project=project, engine=engine)
    return collect_completion(eng.complete(request))


def embed(
    ctx: Context,
    *,
    model: str,
    request: EmbeddingRequest,
    engine: str | None = None,
    project: str | None = None,
) -> EmbeddingResponse:
    return engine_for(ctx, model=model, project=project, engine=engine)[1].embed(request)


def prompt_model_resolver(ctx: Context) -> Callable[[str | None, str], Callable[..., Iterator[str]]]:
    """The playground's ``ModelResolver``: a reference in the prompt's project → ``generate(messages, **params)``,
    which streams the answer's text deltas (the playground shows them as they come)."""

    def resolve(model: str | None, project: str) -> Callable[..., Iterator[str]]:
        if model is None:
            raise InvalidInput(
                "name the model to run the prompt on: 'model' in the request or the prompt's params",
                details={"field": "model"},
            )
        _, engine = engine_for(ctx, model=model, project=project)  # unknown: fails before any trace

        def generate(messages: list[dict[str, str]], **params: Any) -> Iterator[str]:
            request = ChatRequest.model_validate({"messages": messages, **params, "stream": True})
            for chunk in engine.chat(request):
                for choice in chunk.choices:
                    if choice.delta.content:
                        yield choice.delta.content

        return generate

    return resolve
