"""The call pipeline behind ``/v1``: route a request to its deployment's targets and trace it.

Each request is one trace: a ``gateway`` server span (request model, user, session,
deployment revision, latency, time to first token, cost), a ``routing`` span, and one client
span per target tried (usage tokens live there, so a trace counts each token once). Shadow
targets get their own spans from a background task; their answers are recorded, never
returned. Spans are only queued here: the batched writer stores them off the request path.

A ``model`` is looked up in the caller's project: ``project/name`` names it outright; otherwise
the ``x-llmloop-project`` header, else the one project the caller holds a role in, else the
default project. So two projects may each have a deployment ``assistant``; a caller with no
role in a project cannot tell its deployments from absent ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmloop.context import Context
from llmloop.errors import LlmloopError, NotFound, PermissionDenied, RateLimited, Unavailable
from llmloop.refs import NAME_RE
from llmloop.security.rbac import Actor
from llmloop.services.observe import semconv
from llmloop.services.observe.tracer import Span, new_trace_id, writer_for
from llmloop.services.observe.writer import SpanWriter
from llmloop.services.serve import service
from llmloop.services.serve.engines import resolve_engine
from llmloop.services.serve.guardrails import Decisions, check_input, check_output
from llmloop.services.serve.limits import Admission, RateLimits, limiter_for
from llmloop.services.serve.routing import plan_attempts
from llmloop.services.serve.schemas import DeploymentSpec, TargetSpec
from llmloop.services.serve.settings import GatewaySettings, cost_usd, gateway_settings
from llmloop.services.serve.targets import Endpoint, Target, UpstreamTarget

if TYPE_CHECKING:
    from llmloop.services.serve.metrics import GatewayMetrics

OPERATION = {"chat/completions": "chat", "completions": "text_completion", "embeddings": "embeddings"}
MAX_RECORDED_CHARS = 16_384
DEPLOYMENT = semconv.LLMLOOP_DEPLOYMENT
REVISION = semconv.LLMLOOP_DEPLOYMENT_REVISION
SHADOW = "llmloop.shadow"
FALLBACK_ERRORS = (Unavailable, RateLimited, TimeoutError)


@dataclass(frozen=True)
class Route:
    """What a public model name serves right now: a deployment revision, or a registered model directly."""

    model: str
    project: str
    spec: DeploymentSpec
    deployment: str | None = None
    revision: int | None = None
    created_by: str | None = None  # the revision's author: upstream keys are sent on their behalf


@dataclass
class Call:
    endpoint: Endpoint
    body: dict[str, Any]
    root: Span
    user: str | None
    project: str  # where ``model`` is looked up; the deployment's project once routed
    api_key: str | None = None
    actor: Actor | None = None  # who asked; None only for calls made in-process, not over HTTP
    started: float = field(default_factory=time.perf_counter)
    route: Route | None = None
    target: TargetSpec | None = None
    ttft_s: float | None = None
    usage: tuple[int, int] = (0, 0)
    in_flight: str | None = None
    guard: Decisions | None = None

    @property
    def trace_id(self) -> str:
        return self.root.trace_id


def _recorded_input(endpoint: Endpoint, body: dict[str, Any]) -> Any:
    if endpoint == "chat/completions":
        return body.get("messages")
    if endpoint == "completions":
        return body.get("prompt")
    return None  # embeddings inputs are not stored on traces


def _usage(out: dict[str, Any]) -> tuple[int, int]:
    usage = out.get("usage")
    if not isinstance(usage, dict):
        return 0, 0
    p, c = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return (p if isinstance(p, int) else 0), (c if isinstance(c, int) else 0)


def chunk_text(out: dict[str, Any]) -> tuple[str, list[str]]:
    """The answer's text and finish reasons from a response body or a stream chunk."""
    parts: list[str] = []
    reasons: list[str] = []
    choices = out.get("choices")
    for ch in choices if isinstance(choices, list) else []:
        if not isinstance(ch, dict):
            continue
        msg = ch.get("message") or ch.get("delta") or {}
        content = msg.get("content") if isinstance(msg, dict) else None
        text = content if isinstance(content, str) else ch.get("text")
        if isinstance(text, str):
            parts.append(text)
        if isinstance(ch.get("finish_reason"), str):
            reasons.append(ch["finish_reason"])
    return "".join(parts), reasons


class Gateway:
    """One per server process; shares the process's span writer for the server's store."""

    def __init__(
        self, ctx: Context, *, writer: SpanWriter | None = None, settings: GatewaySettings | None = None
    ) -> None:
        self.ctx = ctx
        self.writer = writer or writer_for(ctx)
        self.settings = settings or gateway_settings()
        self._routes: dict[str, tuple[float, Route]] = {}
        self._refreshing: set[str] = set()
        self._targets: dict[str, Target] = {}
        self._background: set[asyncio.Task[None]] = set()
        from llmloop.services.serve.metrics import GatewayMetrics  # prometheus-client: the 'serve' extra

        self.metrics: GatewayMetrics = GatewayMetrics()
        self.limiter = limiter_for(self.settings.redis_url)
        self.admission = Admission(self.settings.max_in_flight, self.settings.max_queue)
        self.metrics.queue_depth.set_function(lambda: self.admission.waiting)
        self.key_limits = RateLimits(
            requests_per_minute=self.settings.key_requests_per_minute,
            tokens_per_minute=self.settings.key_tokens_per_minute,
        )

    # -- routing -----------------------------------------------------------------------------------
    def caller_project(self, actor: Actor | None, header: str | None) -> str:
        """Where a caller's models are looked up unless the model names a project (``project/name``)."""
        if header:
            return header
        if actor is not None:
            named = [p for p in actor.roles if p != "*"]
            if len(named) == 1 and "*" not in actor.roles:
                return named[0]
        return self.ctx.settings.default_project

    def _lookup(self, project: str, model: str) -> Route:
        head, sep, name = model.partition("/")
        if sep and NAME_RE.fullmatch(head) and NAME_RE.fullmatch(name):
            project, model = head, name
        try:
            dep = service.get_deployment(self.ctx, name=model, project=project)
        except NotFound:
            return Route(model=model, project=project, spec=DeploymentSpec(targets=[TargetSpec(model=model)]))
        return Route(
            model=model,
            project=project,
            spec=dep.spec,
            deployment=dep.name,
            revision=dep.revision,
            created_by=dep.created_by,
        )

    async def route(self, model: str, project: str | None = None) -> Route:
        """The model's route from ``project`` (default: the default project), looked up at most once per
        ``route_cache_s``: when an entry expires under load, one request looks it up again while the
        others keep the previous answer meanwhile."""
        project = project or self.ctx.settings.default_project
        key = f"{project}\0{model}"
        now = time.monotonic()
        hit = self._routes.get(key)
        if hit is not None:
            age = now - hit[0]
            if age < self.settings.route_cache_s or (
                key in self._refreshing and age < 2 * self.settings.route_cache_s
            ):
                return hit[1]
        self._refreshing.add(key)
        try:
            route = await asyncio.to_thread(self._lookup, project, model)
        finally:
            self._refreshing.discard(key)
        if len(self._routes) > 10_000:
            self._routes.clear()
        self._routes[key] = (time.monotonic(), route)
        return route

    def forget_routes(self) -> None:
        """Drop cached deployment lookups (after a deployment changed in this process)."""
        self._routes.clear()
        self._refreshing.clear()

    def target(self, spec: TargetSpec, route: Route) -> Target:
        if spec.upstream is None:
            return resolve_engine(self.ctx, spec.model, project=route.project)
        key = "\0".join(
            str(x)
            for x in (
                route.project,
                route.created_by,
                spec.upstream,
                spec.model,
                spec.api_key_secret,
                spec.api_key_env,
            )
        )
        found = self._targets.get(key)
        if found is None:
            found = UpstreamTarget(self.ctx, spec, project=route.project, owner=route.created_by)
            self._targets[key] = found
        return found

    # -- spans ---------------------------------------------------------------------------------------
    def _span(
        self, call: Call, name: str, *, kind: Any = "internal", attributes: dict[str, Any] | None = None
    ) -> Span:
        return Span(
            name,
            trace_id=call.trace_id,
            parent_span_id=call.root.span_id,
            project=call.root.project,
            kind=kind,
            attributes=attributes,
            writer=self.writer,
        )

    def begin(
        self,
        endpoint: Endpoint,
        body: dict[str, Any],
        *,
        user: str | None,
        session: str | None,
        api_key: str | None = None,
        actor: Actor | None = None,
        project: str | None = None,
        parent: Span | None = None,
    ) -> Call:
        """The root span of a request; its trace id goes back in ``x-llmloop-trace-id`` whatever happens.

        ``project`` is the ``x-llmloop-project`` header, if any. The trace is kept in the caller's
        project until routing shows the deployment's (and that the caller may invoke it). A caller
        inside the server (the playground) passes its own span as ``parent``: the request joins
        that trace instead of starting one.
        """
        model = body.get("model")
        caller = self.caller_project(actor, project)
        root = Span(
            f"gateway {OPERATION[endpoint]}",
            trace_id=parent.trace_id if parent is not None else new_trace_id(),
            parent_span_id=parent.span_id if parent is not None else None,
            project=caller,
            kind="server",
            writer=self.writer,
            attributes={
                semconv.GEN_AI_OPERATION_NAME: OPERATION[endpoint],
                semconv.GEN_AI_REQUEST_MODEL: model if isinstance(model, str) else None,
                semconv.GEN_AI_REQUEST_MAX_TOKENS: body.get("max_tokens"),
                semconv.GEN_AI_REQUEST_TEMPERATURE: body.get("temperature"),
                semconv.GEN_AI_REQUEST_TOP_P: body.get("top_p"),
                semconv.USER_ID: user,
                semconv.SESSION_ID: session,
                semconv.GEN_AI_INPUT_MESSAGES: _recorded_input(endpoint, body),
            },
        )
        return Call(
            endpoint=endpoint, body=body, root=root, user=user, project=caller, api_key=api_key, actor=actor
        )

    def fail(self, call: Call, err: BaseException) -> None:
        call.root.record_exception(err)
        self._finish(call)
        self.count_error(call, err.code if isinstance(err, LlmloopError) else "internal_error")

    def _finish(self, call: Call) -> None:
        elapsed = time.perf_counter() - call.started
        call.root.set_attribute(semconv.LLMLOOP_LATENCY_MS, elapsed * 1000.0)
        if call.root.status_code == "unset":
            call.root.set_status("ok")
        call.root.end()
        m = self.metrics
        dep = self._label(call)
        if call.in_flight:
            m.in_flight.labels(call.in_flight).dec()
        status = "error" if call.root.status_code == "error" else "ok"
        m.requests.labels(dep, call.endpoint, status).inc()
        m.latency.labels(dep).observe(elapsed)
        if call.ttft_s is not None:
            m.ttft.labels(dep).observe(call.ttft_s)
        if call.usage[0]:
            m.tokens.labels(dep, "input").inc(call.usage[0])
        if call.usage[1]:
            m.tokens.labels(dep, "output").inc(call.usage[1])

    @staticmethod
    def _label(call: Call) -> str:
        """The deployment label: bounded by what exists, never the raw name a client sent."""
        if call.route is None or (call.route.deployment is None and call.target is None):
            return "_unrouted"
        return call.route.deployment or call.route.model

    def count_error(self, call: Call, code: str) -> None:
        dep = self._label(call)
        self.metrics.errors.labels(dep, code).inc()

    def _record_answer(
        self, call: Call, model: Any, text: str, reasons: list[str], usage: tuple[int, int]
    ) -> None:
        root = call.root
        root.set_attribute(semconv.GEN_AI_RESPONSE_MODEL, model if isinstance(model, str) else None)
        if reasons:
            root.set_attribute(semconv.GEN_AI_RESPONSE_FINISH_REASONS, reasons)
        if call.endpoint != "embeddings":
            root.set_attribute(
                semconv.GEN_AI_OUTPUT_MESSAGES, [{"role": "assistant", "content": text[:MAX_RECORDED_CHARS]}]
            )
        call.usage = usage
        models = tuple(
            m
            for m in (call.target.model if call.target else None, model, call.body.get("model"))
            if isinstance(m, str)
        )
        cost = cost_usd(self.settings.prices, models, *usage)
        if cost is not None:
            root.set_attribute(semconv.LLMLOOP_COST_USD, cost)

    async def _plan(self, call: Call) -> list[TargetSpec]:
        model = call.body.get("model")
        with self._span(call, "routing") as sp:
            route = call.route = await self.route(str(model), call.project)
            check_invoke(call.actor, route)
            call.project = sp.project = call.root.project = route.project  # the deployment's trace
            attempts = plan_attempts(route.spec, deployment=route.deployment or route.model, user=call.user)
            sp.set_attributes(
                {
                    DEPLOYMENT: route.deployment,
                    REVISION: route.revision,
                    "llmloop.routing.policy": route.spec.policy,
                    "llmloop.routing.attempts": [t.label for t in attempts],
                }
            )
        # the arm of the split (the chosen target, whoever answers in the end): live figures per target
        call.root.set_attributes(
            {
                DEPLOYMENT: route.deployment,
                REVISION: route.revision,
                semconv.LLMLOOP_TARGET: attempts[0].label,
            }
        )
        for key, limits in self._limit_keys(call):
            await self.limiter.admit(key, limits)
        if route.deployment is not None:
            call.in_flight = route.deployment
            self.metrics.in_flight.labels(route.deployment).inc()
        if route.spec.guardrails.active:
            self._guard_input(call)
        if route.spec.shadow:
            self._spawn(self._mirror(call, route.spec))
        return attempts

    def _guard_input(self, call: Call) -> None:
        assert call.route is not None
        spec = call.route.spec.guardrails
        sp = self._span(call, semconv.GUARDRAIL_SPAN_PREFIX + "input")
        decisions = Decisions()
        try:
            call.body, decisions = check_input(spec, call.body)
        except LlmloopError as e:
            sp.set_attribute(semconv.LLMLOOP_GUARDRAIL_REFUSED, str(e.details.get("guardrail", "")))
            sp.record_exception(e)
            raise
        finally:
            _record_decisions(sp, decisions, spec.fail_closed)
            sp.end()
        call.guard = decisions
        if spec.pii != "off":  # the trace keeps the redacted prompt, not the original
            call.root.set_attribute(semconv.GEN_AI_INPUT_MESSAGES, _recorded_input(call.endpoint, call.body))
        call.root.set_attribute("llmloop.guardrail.injection_score", decisions.injection_score)

    def _guard_output(self, call: Call, out: dict[str, Any]) -> dict[str, Any]:
        assert call.route is not None
        spec = call.route.spec.guardrails
        if spec.output_json_schema is None and not (spec.pii == "redact" and spec.pii_output):
            return out
        sp = self._span(call, semconv.GUARDRAIL_SPAN_PREFIX + "output")
        decisions = Decisions()
        try:
            return check_output(spec, out, decisions)
        except LlmloopError as e:
            sp.record_exception(e)
            raise
        finally:
            _record_decisions(sp, decisions, spec.fail_closed)
            sp.end()

    def _limit_keys(self, call: Call) -> list[tuple[str, RateLimits]]:
        assert call.route is not None
        keys = [(f"deployment:{call.route.project}/{call.route.model}", call.route.spec.limits)]
        if call.api_key:
            digest = hashlib.sha256(call.api_key.encode()).hexdigest()[:16]
            keys.append((f"key:{digest}", self.key_limits))
        return keys

    def _spend(self, call: Call, usage: tuple[int, int]) -> None:
        """Charge the call's tokens to its budgets, off the response path."""
        if call.route is None or sum(usage) == 0:
            return
        keys = self._limit_keys(call)
        if all(limits.tokens_per_minute is None for _, limits in keys):
            return

        async def charge() -> None:
            for key, limits in keys:
                await self.limiter.spend(key, limits, sum(usage))

        self._spawn(charge())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _attempt_span(self, call: Call, ts: TargetSpec, n: int) -> Span:
        return self._span(
            call,
            f"{OPERATION[call.endpoint]} {ts.model}",
            kind="client",
            attributes={
                semconv.GEN_AI_OPERATION_NAME: OPERATION[call.endpoint],
                semconv.GEN_AI_REQUEST_MODEL: ts.model,
                semconv.GEN_AI_SYSTEM: "openai" if ts.upstream else "llmloop",
                semconv.LLMLOOP_TARGET: ts.label,
                "llmloop.attempt": n,
            },
        )

    @staticmethod
    def _close_attempt(sp: Span, out: dict[str, Any], usage: tuple[int, int]) -> None:
        sp.set_attributes(
            {
                semconv.GEN_AI_RESPONSE_MODEL: out.get("model"),
                semconv.GEN_AI_USAGE_INPUT_TOKENS: usage[0],
                semconv.GEN_AI_USAGE_OUTPUT_TOKENS: usage[1],
            }
        )
        sp.set_status("ok")
        sp.end()

    @staticmethod
    def _answered_by(call: Call, ts: TargetSpec, target: Target) -> None:
        """Commit the answer to ``ts``; a registered model's pinned version goes on the root, so
        feedback on this trace can name the exact version that served it (lineage)."""
        call.target = ts
        version = getattr(target, "version", None)  # engines a test installs may not pin one
        if isinstance(version, str):
            call.root.set_attribute(semconv.LLMLOOP_MODEL_VERSION, version)

    # -- calls ---------------------------------------------------------------------------------------
    async def call(self, call: Call) -> dict[str, Any]:
        """A whole (non-streamed) response; tries fallbacks on an unavailable or slow target."""
        attempts = await self._plan(call)
        assert call.route is not None
        last: BaseException | None = None
        for n, ts in enumerate(attempts):
            sp = self._attempt_span(call, ts, n)
            try:  # resolving the target may fail too (an engine that cannot load): then a fallback
                target = self.target(ts, call.route)
                out = await target.call(call.endpoint, call.body, timeout_s=call.route.spec.timeout_s)
            except FALLBACK_ERRORS as e:
                sp.record_exception(e)
                sp.end()
                last = e
                continue
            except BaseException as e:
                sp.record_exception(e)
                sp.end()
                raise
            self._answered_by(call, ts, target)
            usage = _usage(out)
            self._close_attempt(sp, out, usage)
            if call.route.spec.guardrails.active:
                try:
                    out = self._guard_output(call, out)
                except LlmloopError:
                    call.usage = usage
                    raise
            text, reasons = chunk_text(out)
            self._record_answer(call, out.get("model"), text, reasons, usage)
            self._finish(call)
            self._spend(call, usage)
            return out
        raise _exhausted(last)

    async def stream(self, call: Call) -> AsyncGenerator[dict[str, Any], None]:
        """Streamed chunks; fallbacks are tried until the first chunk arrives, then the answer is committed.

        The usage chunk (empty ``choices``) is always requested from the target, for the trace,
        and passed on only when the client asked with ``stream_options.include_usage``.
        """
        attempts = await self._plan(call)
        assert call.route is not None
        opts = call.body.get("stream_options")
        want_usage = isinstance(opts, dict) and bool(opts.get("include_usage"))
        last: BaseException | None = None
        for n, ts in enumerate(attempts):
            sp = self._attempt_span(call, ts, n)
            target = self.target(ts, call.route)
            chunks = target.stream(call.endpoint, call.body, timeout_s=call.route.spec.timeout_s)
            try:
                first = await anext(chunks)
            except StopAsyncIteration:
                first = None
            except FALLBACK_ERRORS as e:
                sp.record_exception(e)
                sp.end()
                await chunks.aclose()
                last = e
                continue
            except BaseException as e:
                sp.record_exception(e)
                sp.end()
                await chunks.aclose()
                raise
            self._answered_by(call, ts, target)
            break
        else:
            raise _exhausted(last)
        buffered = self._needs_whole_answer(call)
        if buffered:  # output rules judge the whole answer: nothing reaches the client before they ran
            chunks = self._checked(call, first, chunks)
            call.root.set_attribute(semconv.LLMLOOP_GUARDRAIL_BUFFERED, True)
        call.ttft_s = time.perf_counter() - call.started
        ttft = call.ttft_s * 1000.0
        call.root.set_attribute(semconv.LLMLOOP_TTFT_MS, ttft)
        sp.add_event("first_token", {semconv.LLMLOOP_TTFT_MS: ttft})
        text: list[str] = []
        size = 0
        reasons: list[str] = []
        usage = (0, 0)
        model: Any = None
        try:
            chunk = await anext(chunks, None) if buffered else first
            while chunk is not None:
                model = chunk.get("model", model)
                if isinstance(chunk.get("usage"), dict):
                    usage = _usage(chunk)
                piece, why = chunk_text(chunk)
                reasons += why
                if piece and size < MAX_RECORDED_CHARS:
                    text.append(piece)
                    size += len(piece)
                if want_usage or chunk.get("choices"):
                    if not want_usage:
                        chunk.pop("usage", None)
                    yield chunk
                chunk = await anext(chunks, None)
        except BaseException as e:  # includes the client going away (GeneratorExit / cancellation)
            sp.record_exception(e)
            call.root.record_exception(e)
            self.count_error(call, e.code if isinstance(e, LlmloopError) else type(e).__name__)
            raise
        finally:
            await chunks.aclose()
            self._close_attempt(sp, {"model": model}, usage) if sp.status_code != "error" else sp.end()
            self._record_answer(call, model, "".join(text), reasons, usage)
            self._finish(call)
            self._spend(call, usage)

    def _needs_whole_answer(self, call: Call) -> bool:
        assert call.route is not None
        spec = call.route.spec.guardrails
        return spec.output_json_schema is not None or (spec.pii == "redact" and spec.pii_output)

    async def _checked(
        self, call: Call, first: dict[str, Any] | None, chunks: AsyncGenerator[dict[str, Any], None]
    ) -> AsyncGenerator[dict[str, Any], None]:
        """A stream whose output rules need the whole answer (a JSON schema; PII that may straddle
        chunks): read it all, check it as one response, then replay it as one chunk per choice
        followed by the usage chunk. A refusal (fail closed) raises before anything was sent."""
        collected = [] if first is None else [first]
        try:
            async for c in chunks:
                collected.append(c)
        finally:
            await chunks.aclose()
        chat = call.endpoint == "chat/completions"
        texts: dict[int, list[str]] = {}
        reasons: dict[int, str] = {}
        tail: list[dict[str, Any]] = []
        for c in collected:
            choices = c.get("choices")
            if not isinstance(choices, list) or not choices:
                tail.append(c)  # the usage chunk
                continue
            for ch in choices:
                if not isinstance(ch, dict):
                    continue
                index = ch.get("index")
                i = index if isinstance(index, int) else 0
                piece, why = chunk_text({"choices": [ch]})
                texts.setdefault(i, []).append(piece)
                if why:
                    reasons[i] = why[-1]
        whole: dict[str, Any] = {
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": "".join(t)}}
                if chat
                else {"index": i, "text": "".join(t)}
                for i, t in sorted(texts.items())
            ]
        }
        whole = self._guard_output(call, whole)
        template = (
            {k: v for k, v in collected[0].items() if k not in ("choices", "usage")} if collected else {}
        )
        for ch in whole["choices"]:
            i = int(ch["index"])
            if chat:
                out = {"index": i, "delta": {"role": "assistant", "content": ch["message"]["content"]}}
            else:
                out = {"index": i, "text": ch["text"]}
            yield {**template, "choices": [{**out, "finish_reason": reasons.get(i)}]}
        for c in tail:
            yield c

    async def _mirror(self, call: Call, spec: DeploymentSpec) -> None:
        """Send the same request to each shadow target; record what it answered, return nothing."""
        body = {k: v for k, v in call.body.items() if k not in ("stream", "stream_options")}
        assert call.route is not None
        for ts in spec.shadow:
            sp = self._span(
                call,
                f"shadow {ts.model}",
                kind="client",
                attributes={
                    SHADOW: True,
                    semconv.LLMLOOP_TARGET: ts.label,
                    semconv.GEN_AI_REQUEST_MODEL: ts.model,
                },
            )
            try:
                out = await self.target(ts, call.route).call(call.endpoint, body, timeout_s=spec.timeout_s)
            except Exception as e:  # a failing shadow never touches the real answer
                sp.record_exception(e)
                sp.end()
                continue
            text, _ = chunk_text(out)
            tokens = _usage(out)
            sp.set_attributes(
                {
                    semconv.GEN_AI_RESPONSE_MODEL: out.get("model"),
                    "llmloop.shadow.input_tokens": tokens[0],
                    "llmloop.shadow.output_tokens": tokens[1],
                    semconv.GEN_AI_OUTPUT_MESSAGES: [
                        {"role": "assistant", "content": text[:MAX_RECORDED_CHARS]}
                    ],
                }
            )
            sp.set_status("ok")
            sp.end()

    async def drain(self) -> None:
        """Wait for shadow calls still running (at shutdown and in tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)


def check_invoke(actor: Actor | None, route: Route) -> None:
    """A gateway-only key names its deployments; anyone else needs deployments:invoke in the project.
    A caller with no role in the project is answered as if the model did not exist there."""
    name = route.deployment or route.model
    if actor is None or actor.can_invoke(name, route.project):
        return
    if actor.deployments is None and actor.role_in(route.project) is None:
        raise NotFound(f"model {name!r} not found in project {route.project!r}", details={"model": name})
    raise PermissionDenied(
        f"{actor.id} may not invoke {name!r} in project {route.project!r}", details={"model": name}
    )


def _record_decisions(sp: Span, decisions: Decisions, fail_closed: bool) -> None:
    sp.set_attribute("llmloop.guardrail.fail_closed", fail_closed)
    for name, attrs in decisions.events:
        sp.add_event(name, attrs)


def _exhausted(last: BaseException | None) -> LlmloopError:
    if isinstance(last, LlmloopError):
        return last
    if isinstance(last, TimeoutError):
        return Unavailable("every target timed out", details={})
    return Unavailable(f"every target failed: {last}", details={})


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
