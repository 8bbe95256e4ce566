"""``ll.chat``: one chat completion from a registered model, OpenAI-shaped, in this process.

    import llmloop as ll
    out = ll.chat(model="smollm2-135m-instruct", messages=[{"role": "user", "content": "Hi"}])
    out.choices[0].message.content, out.usage.total_tokens
    for chunk in ll.chat(model="travel-sft@champion", messages=msgs, stream=True):
        print(chunk.choices[0].delta.content or "", end="")

The model runs here (the engine is cached, so the second call is fast). To call a model served
elsewhere, point the official ``openai`` client at ``llmloop serve``'s ``/v1``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal, overload

from llmloop.context import local_context
from llmloop.engines.schemas import ChatCompletion, ChatCompletionChunk

__all__ = ["chat"]


@overload
def chat(
    *,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    engine: str | None = ...,
    stream: Literal[False] = ...,
    project: str | None = ...,
    **params: Any,
) -> ChatCompletion: ...


@overload
def chat(
    *,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    engine: str | None = ...,
    stream: Literal[True],
    project: str | None = ...,
    **params: Any,
) -> Iterator[ChatCompletionChunk]: ...


def chat(
    *,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    engine: str | None = None,
    stream: bool = False,
    project: str | None = None,
    **params: Any,
) -> ChatCompletion | Iterator[ChatCompletionChunk]:
    """``params``: max_tokens, temperature, top_p, seed, stop — validated like the gateway's request body."""
    from llmloop.engines.schemas import ChatRequest
    from llmloop.services.registry import inference

    request = ChatRequest.model_validate({"messages": list(messages), **params})
    ctx = local_context()
    if stream:
        return inference.stream_chat(ctx, model=model, request=request, engine=engine, project=project)
    return inference.chat(ctx, model=model, request=request, engine=engine, project=project)
