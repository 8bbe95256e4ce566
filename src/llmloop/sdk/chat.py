"""``ll.chat``: one chat completion from a registered model, OpenAI-shaped, in this process.

    import llmloop as ll
    out = ll.chat(model="smollm2-135m-instruct", messages=[{"role": "user", "content": "Hi"}])
    out.choices[0].message.content, out.usage.total_tokens
    for chunk in ll.chat(model="travel-sft@champion", messages=msgs, stream=True):
        print(chunk.choices[0].delta.content or "", end="")

Locally the model runs here (the engine is cached, so the second call is fast) and the request
is traced like a gateway request (``llmloop traces list --model NAME`` finds it). With
``LLMLOOP_SERVER_URL`` set, the request goes to that server's gateway (``/v1/chat/completions``),
which picks the deployment or registered model, applies its guardrails and limits and records the
trace there; ``engine`` and ``project`` are then the server's to choose.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal, overload

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
    from llmloop.client import get_client
    from llmloop.engines.schemas import ChatRequest

    request = ChatRequest.model_validate({"messages": list(messages), **params})
    api = get_client().deployments
    if stream:
        return api.stream_chat(model, request, engine=engine, project=project)
    return api.chat(model, request, engine=engine, project=project)
