"""The playground's back end: render a prompt version, call a model on it, trace it, optionally save a run.

The model is reached through a ``ModelResolver`` ((model name, the prompt's project) ->
``generate(messages, **params)``, answering the text whole or as an iterable of text deltas) that
whoever wires engines provides — the prompt registry does not
know engines. Without one, running answers ``Unavailable`` while rendering still works.
A deployment (``request.deployment``) is reached through a ``DeploymentResolver`` instead,
which only a server has (its gateway: ``llmloop.services.serve.from_thread``), so that the
deployment's split, guardrails and limits apply; its ``generate`` also takes the playground's
span as ``parent``, puts the gateway's spans under it and says on it who answered.
Each call is one trace: a ``chat`` span with GenAI attributes; saved runs (kind
``prompt``) keep the prompt reference and parameters as params (with the deployment, its
revision, the arm and the model version that answered), latency as a metric, the
messages and output as an artifact, and a lineage edge from the prompt version.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from llmloop.context import Context
from llmloop.errors import InvalidInput, LlmloopError, Unavailable
from llmloop.refs import parse_ref, validate_name
from llmloop.services.observe import semconv
from llmloop.services.observe.tracer import span, writer_for
from llmloop.services.prompts.render import compile_version
from llmloop.services.prompts.schemas import PromptRunRequest, PromptRunResult, PromptVersion
from llmloop.services.prompts.service import dataset_examples, get_prompt_version
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import MetricPoint, RunBatch, RunCreate
from llmloop.store.lineage import Edge, add_edge

Generate = Callable[..., str]
# the playground's models may stream: the answer whole, or its deltas as they come
StreamingGenerate = Callable[..., str | Iterable[str]]
ModelResolver = Callable[[str | None, str], StreamingGenerate]  # (model, project) -> generate
# a deployment's generate(messages, *, parent=the playground's span, **params): the answer's deltas
DeploymentGenerate = Callable[..., Iterable[str]]
DeploymentResolver = Callable[[str, str], DeploymentGenerate]  # (deployment, project) -> generate
OnDelta = Callable[[str], None]
# what a deployment's answer leaves on the playground's span, and the run param each becomes
SERVED_PARAMS = {
    semconv.LLMLOOP_DEPLOYMENT: "deployment",
    semconv.LLMLOOP_DEPLOYMENT_REVISION: "deployment_revision",
    semconv.LLMLOOP_TARGET: "target",
    semconv.LLMLOOP_MODEL_VERSION: "model_version",
}


def model_call_attributes(model: str | None, params: dict[str, Any]) -> dict[str, Any]:
    """GenAI request attributes for a chat call with these parameters."""
    attrs: dict[str, Any] = {semconv.GEN_AI_OPERATION_NAME: "chat"}
    if model:
        attrs[semconv.GEN_AI_REQUEST_MODEL] = model
    for key, name in (
        ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
        ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
        ("max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
        ("stop", semconv.GEN_AI_REQUEST_STOP_SEQUENCES),
    ):
        if params.get(key) is not None:
            attrs[name] = params[key]
    return attrs


def messages_json(messages: Sequence[dict[str, str]]) -> str:
    return json.dumps(list(messages), ensure_ascii=False)


def _collect(answer: str | Iterable[str], on_delta: OnDelta | None) -> str:
    """The whole answer, handing each delta to ``on_delta`` as it arrives (a whole answer is one delta)."""
    parts = [answer] if isinstance(answer, str) else answer
    out: list[str] = []
    for part in parts:
        out.append(part)
        if on_delta is not None and part:
            on_delta(part)
    return "".join(out)


def run_prompt(
    ctx: Context,
    *,
    ref: str,
    request: PromptRunRequest,
    resolve_model: ModelResolver | None,
    resolve_deployment: DeploymentResolver | None = None,
    on_delta: OnDelta | None = None,
) -> PromptRunResult:
    """Render ``ref``, run it on ``request.model`` or ``request.deployment``, trace it (and save a
    run); ``on_delta`` sees the answer while it streams."""
    deployment = request.deployment
    if deployment is not None:
        if request.model is not None:
            raise InvalidInput(
                "name a model or a deployment to run the prompt on, not both", details={"field": "deployment"}
            )
        validate_name(deployment, what="deployment")
    version = get_prompt_version(ctx, project=request.project, ref=ref)
    rendered = compile_version(version).format(
        request.variables, example_source=dataset_examples(ctx, project=version.project)
    )
    params = {**rendered.params, **request.params.model_dump(exclude_none=True)}
    model = deployment or request.model or params.pop("model", None)
    params.pop("model", None)
    if deployment is not None:
        if resolve_deployment is None:  # checked after the inputs, so bad references still get 400/404
            raise Unavailable(
                f"deployment {deployment!r} answers through a server's gateway: run the prompt there "
                "(the web UI's playground, or POST /api/v1/prompts/{ref}/run on llmloop serve)",
                details={"ref": ref, "deployment": deployment},
            )
        routed = resolve_deployment(deployment, version.project)  # unknown: fails before any trace
    else:
        if model is not None:
            parse_ref(str(model))  # a registered model reference, nothing else
        if resolve_model is None:
            raise Unavailable(
                "no model backend is wired to run prompts yet; rendering works "
                "(POST /api/v1/prompts/{name}/render), running needs a registered model or deployment",
                details={"ref": ref},
            )
        generate = resolve_model(model, version.project)
    attrs = {
        **model_call_attributes(model, params),
        semconv.LLMLOOP_PROMPT: version.ref,
        semconv.GEN_AI_INPUT_MESSAGES: messages_json(rendered.messages),
    }
    with span(
        f"chat {model or 'default'}",
        attributes=attrs,
        kind="client",
        project=request.project,
        writer=writer_for(ctx),
    ) as sp:
        started = time.perf_counter()
        if deployment is not None:
            generate = functools.partial(routed, parent=sp)
        try:
            output = _collect(generate(rendered.messages, **params), on_delta)
        except LlmloopError:  # the gateway's own verdicts (a guardrail, a limit) keep their class
            raise
        except Exception as e:  # an engine failure is the engine's unavailability, not a bug here
            raise Unavailable(f"model {model or 'default'} failed: {type(e).__name__}: {e}") from e
        latency_ms = (time.perf_counter() - started) * 1000.0
        sp.set_attribute(
            semconv.GEN_AI_OUTPUT_MESSAGES, messages_json([{"role": "assistant", "content": str(output)}])
        )
    served = {name: sp.attributes[key] for key, name in SERVED_PARAMS.items() if key in sp.attributes}
    if deployment is not None:  # the model is whichever version the split sent the request to
        model = str(served.get("model_version") or served.get("target") or "") or None
    run_id = None
    if request.save_run:
        run_id = _save_run(
            ctx, version, rendered.messages, str(output), {**params, **served}, model, latency_ms, sp.trace_id
        )
    return PromptRunResult(
        ref=version.ref,
        model=model,
        deployment=deployment,
        model_version=served.get("model_version"),
        messages=rendered.messages,
        params=params,
        output=str(output),
        latency_ms=latency_ms,
        trace_id=sp.trace_id,
        run_id=run_id,
    )


def _save_run(
    ctx: Context,
    version: PromptVersion,
    messages: list[dict[str, str]],
    output: str,
    params: dict[str, Any],
    model: str | None,
    latency_ms: float,
    trace_id: str,
) -> str:
    run = tracking.create_run(
        ctx,
        spec=RunCreate(
            project=version.project,
            name=f"prompt {version.ref}",
            kind="prompt",
            params={"prompt": version.ref, "model": model or "", **params},
            tags={"trace_id": trace_id},
        ),
    )
    blob = ctx.artifacts.put_bytes(
        json.dumps({"messages": messages, "output": output}, ensure_ascii=False, indent=1).encode()
    )
    tracking.record_artifact(ctx, run_id=run.id, name="prompt_run.json", sha256=blob.sha256, size=blob.size)
    t = time.time()
    tracking.log_batch(
        ctx,
        run_id=run.id,
        batch=RunBatch(
            metrics=[
                MetricPoint(key="latency_ms", value=latency_ms, step=0, timestamp=t),
                MetricPoint(key="output_chars", value=len(output), step=0, timestamp=t),
            ],
            end_status="finished",
        ),
    )
    with ctx.db.session() as s:
        add_edge(s, Edge("prompt_version", version.id, "input_to", "run", run.id))
    return run.id
