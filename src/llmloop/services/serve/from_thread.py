"""A deployment answering code that runs on a worker thread of the server: the prompt playground.

The playground renders, traces and saves on a worker thread, but a deployment's pipeline
(routing with its split, guardrails, limits, fallbacks, shadows, metrics) is the server's
``Gateway``, whose admission queue and limiters belong to the server's event loop. So each step
of the gateway's stream is handed to that loop and waited for here: the request is a gateway
request like any other, only its caller is in-process. It joins the caller's trace under the
caller's span, which is told who answered (deployment, revision, arm, model version), so the
trace row is the deployment's and a saved run can say which version served it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from llmloop.errors import NotFound
from llmloop.refs import validate_name
from llmloop.security.rbac import Actor
from llmloop.services.observe import semconv
from llmloop.services.observe.tracer import Span
from llmloop.services.prompts.playground import DeploymentGenerate, DeploymentResolver
from llmloop.services.serve.gateway import Gateway, check_invoke, chunk_text

T = TypeVar("T")
# what the caller's span learns from the gateway's root: the trace row's deployment and arm
SERVED = (
    semconv.LLMLOOP_DEPLOYMENT,
    semconv.LLMLOOP_DEPLOYMENT_REVISION,
    semconv.LLMLOOP_TARGET,
    semconv.LLMLOOP_MODEL_VERSION,
)


def deployment_resolver(
    gateway: Gateway, loop: asyncio.AbstractEventLoop, *, actor: Actor | None
) -> DeploymentResolver:
    """The playground's deployments: ``(name, project) -> generate(messages, *, parent, **params)``.

    ``loop`` is the server's, the one ``gateway`` runs on; the returned functions must be called
    from another thread. Only a deployment of ``project`` is found: a registered model's name, or
    a deployment of another project (a ``project/name`` is refused as a name), is ``NotFound``
    naming the deployment, before anything is traced.
    """

    def on_loop(work: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await work()

        return asyncio.run_coroutine_threadsafe(run(), loop).result()

    def resolve(name: str, project: str) -> DeploymentGenerate:
        validate_name(name, what="deployment")
        route = on_loop(lambda: gateway.route(name, project))
        if route.deployment is None:
            raise NotFound(
                f"deployment {name!r} not found in project {project!r}", details={"deployment": name}
            )
        check_invoke(actor, route)

        def generate(messages: list[dict[str, str]], *, parent: Span, **params: Any) -> Iterator[str]:
            body = {**params, "model": name, "messages": messages, "stream": True}
            call = gateway.begin(
                "chat/completions", body, user=None, session=None, actor=actor, project=project, parent=parent
            )
            try:
                on_loop(gateway.admission.enter)
            except Exception as e:
                gateway.fail(call, e)
                raise
            chunks = gateway.stream(call)
            try:
                while (chunk := on_loop(lambda: anext(chunks, None))) is not None:
                    text, _ = chunk_text(chunk)
                    if text:
                        yield text
            except Exception as e:  # before the first chunk the stream has not closed the trace
                if call.root.status_code != "error":
                    gateway.fail(call, e)
                raise
            finally:
                on_loop(chunks.aclose)
                loop.call_soon_threadsafe(gateway.admission.leave)
                parent.set_attributes(
                    {k: call.root.attributes[k] for k in SERVED if k in call.root.attributes}
                )

        return generate

    return resolve
