"""Deployments: create a revision, read one, list, roll back. Revisions are immutable.

``create_deployment`` writes revision N+1 of the name (creating the deployment at 1);
``rollback_deployment`` writes a new revision whose spec copies an older one, so the log of
what served when is never rewritten. Every revision written passes ``_check_upstreams``: an
upstream's URL carries no credentials and its key is a secret (or an operator-allowed variable)
the writer holds ``secrets:use`` for (``security.upstream``); a revision is served with its
author's permission, re-checked at use.

``chat`` / ``stream_chat`` answer from a registered model in this process (``ll.chat``) and trace
the request as the gateway does, with the same spans and attributes, so the requests a model
version answered are found in one place whichever door they came through.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from llmloop.context import Context
from llmloop.errors import InvalidInput, NotFound
from llmloop.refs import validate_name
from llmloop.security import audit
from llmloop.security.upstream import check_upstream
from llmloop.services.serve.schemas import Deployment, DeploymentCreate, DeploymentPage, DeploymentSpec
from llmloop.store.projects import project_id
from llmloop.store.tables.base import now
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.deployments import DeploymentRevisionRow, DeploymentRow

if TYPE_CHECKING:
    from llmloop.engines.schemas import ChatCompletion, ChatCompletionChunk, ChatRequest


def _deployment(row: DeploymentRow, rev: DeploymentRevisionRow, project: str) -> Deployment:
    return Deployment(
        name=row.name,
        project=project,
        revision=rev.revision,
        latest_revision=row.latest_revision,
        spec=DeploymentSpec.model_validate(rev.spec),
        message=rev.message,
        created_at=rev.created_at,
        created_by=rev.created_by,
    )


def _check_upstreams(ctx: Context, project: str, spec: DeploymentSpec) -> None:
    """Refuse a revision with any target (served, shadow or fallback) that ``ctx.actor`` may not configure."""
    for group in ("targets", "shadow", "fallbacks"):
        for i, t in enumerate(getattr(spec, group)):
            if t.upstream is not None:
                check_upstream(
                    ctx,
                    project=project,
                    url=t.upstream,
                    secret=t.api_key_secret,
                    env=t.api_key_env,
                    where=f"spec.{group}[{i}]",
                )
            elif t.api_key_secret is not None or t.api_key_env is not None:
                raise InvalidInput(
                    f"spec.{group}[{i}]: an upstream key needs an upstream URL (a registered model "
                    "carries its own)",
                    details={"field": f"spec.{group}[{i}].upstream"},
                )


def _write_revision(
    ctx: Context, s: Session, *, project: str, name: str, spec: DeploymentSpec, message: str
) -> Deployment:
    _check_upstreams(ctx, project, spec)
    pid = project_id(s, project, create=True)
    row = s.scalar(
        select(DeploymentRow)
        .where(DeploymentRow.project_id == pid, DeploymentRow.name == name)
        .with_for_update()
    )
    if row is None:
        row = DeploymentRow(
            id=uuid.uuid4().hex, project_id=pid, name=name, latest_revision=0, created_at=now()
        )
        s.add(row)
    row.latest_revision += 1
    row.updated_at = now()
    s.flush()
    rev = DeploymentRevisionRow(
        id=uuid.uuid4().hex,
        deployment_id=row.id,
        revision=row.latest_revision,
        spec=spec.model_dump(mode="json"),
        message=message,
        created_at=now(),
        created_by=ctx.actor.id,
    )
    s.add(rev)
    s.flush()
    # traffic routing changed: who, which revision, why (not the spec: it may name credentials)
    before = {"revision": row.latest_revision - 1} if row.latest_revision > 1 else None
    after = {"revision": row.latest_revision, "message": message}
    action = "deployments.create" if before is None else "deployments.update"
    audit.record(s, ctx, action, f"deployment:{name}", before, after, project=project)
    return _deployment(row, rev, project)


def create_deployment(ctx: Context, *, spec: DeploymentCreate) -> Deployment:
    """A new revision of deployment ``spec.name`` (the first one creates it)."""
    project = spec.project or ctx.settings.default_project
    validate_name(spec.name, what="deployment")
    ctx.require("deployments:write", project)
    with ctx.db.session() as s:
        return _write_revision(ctx, s, project=project, name=spec.name, spec=spec.spec, message=spec.message)


def _find(s: Session, project: str, name: str) -> DeploymentRow:
    validate_name(project, what="project")
    row = s.scalar(
        select(DeploymentRow)
        .join(ProjectRow, ProjectRow.id == DeploymentRow.project_id)
        .where(ProjectRow.name == project, DeploymentRow.name == name)
    )
    if row is None:
        raise NotFound(
            f"deployment {name!r} not found in project {project!r}",
            details={"deployment": name, "project": project},
        )
    return row


def _revision(s: Session, row: DeploymentRow, revision: int) -> DeploymentRevisionRow:
    rev = s.scalar(
        select(DeploymentRevisionRow).where(
            DeploymentRevisionRow.deployment_id == row.id, DeploymentRevisionRow.revision == revision
        )
    )
    if rev is None:
        raise NotFound(
            f"deployment {row.name!r} has no revision {revision}",
            details={"deployment": row.name, "revision": revision},
        )
    return rev


def get_deployment(
    ctx: Context, *, name: str, project: str | None = None, revision: int | None = None
) -> Deployment:
    project = project or ctx.settings.default_project
    ctx.require("deployments:read", project)
    with ctx.db.session() as s:
        row = _find(s, project, name)
        return _deployment(row, _revision(s, row, revision or row.latest_revision), project)


def list_deployment_revisions(ctx: Context, *, name: str, project: str | None = None) -> list[Deployment]:
    project = project or ctx.settings.default_project
    ctx.require("deployments:read", project)
    with ctx.db.session() as s:
        row = _find(s, project, name)
        revs = s.scalars(
            select(DeploymentRevisionRow)
            .where(DeploymentRevisionRow.deployment_id == row.id)
            .order_by(DeploymentRevisionRow.revision.desc())
        )
        return [_deployment(row, r, project) for r in revs]


def list_deployments(ctx: Context, *, project: str | None = None) -> DeploymentPage:
    project = project or ctx.settings.default_project
    ctx.require("deployments:read", project)
    with ctx.db.session() as s:
        try:
            pid = project_id(s, project)
        except NotFound:
            return DeploymentPage(items=[])
        rows = s.execute(
            select(DeploymentRow, DeploymentRevisionRow)
            .join(
                DeploymentRevisionRow,
                (DeploymentRevisionRow.deployment_id == DeploymentRow.id)
                & (DeploymentRevisionRow.revision == DeploymentRow.latest_revision),
            )
            .where(DeploymentRow.project_id == pid)
            .order_by(DeploymentRow.name)
        ).all()
        return DeploymentPage(items=[_deployment(d, r, project) for d, r in rows])


def rollback_deployment(
    ctx: Context, *, name: str, project: str | None = None, to_revision: int | None = None
) -> Deployment:
    """A new revision copying ``to_revision`` (default: the one before the latest)."""
    project = project or ctx.settings.default_project
    ctx.require("deployments:write", project)
    with ctx.db.session() as s:
        row = _find(s, project, name)
        target = to_revision if to_revision is not None else row.latest_revision - 1
        if target < 1:
            raise NotFound(
                f"deployment {name!r} has no earlier revision to roll back to",
                details={"deployment": name, "revision": target},
            )
        old = _revision(s, row, target)
        spec = DeploymentSpec.model_validate(old.spec)
        return _write_revision(
            ctx, s, project=project, name=name, spec=spec, message=f"rollback to revision {target}"
        )


def stream_chat(
    ctx: Context, *, model: str, request: ChatRequest, engine: str | None = None, project: str | None = None
) -> Iterator[ChatCompletionChunk]:
    """Chunks of registered model ``model``'s answer, traced like a streamed gateway request.

    The model is resolved now (an unknown one raises here, not on the first chunk).
    """
    return _ChatTrace(ctx, model=model, request=request, project=project).answer(engine, streamed=True)


def chat(
    ctx: Context, *, model: str, request: ChatRequest, engine: str | None = None, project: str | None = None
) -> ChatCompletion:
    """Registered model ``model``'s whole answer, traced like a gateway request."""
    from llmloop.engines.schemas import collect_chat

    return collect_chat(
        _ChatTrace(ctx, model=model, request=request, project=project).answer(engine, streamed=False)
    )


class _ChatTrace:
    """The spans of ``Gateway.call`` / ``Gateway.stream`` for a model served without a deployment.

    A root ``gateway chat`` span (request parameters as sent, answer, latency, cost; time to first
    token when streamed), a ``routing`` span (single policy, no deployment: what the gateway records
    for a bare model name) and one ``chat MODEL`` client span with the usage tokens. The root is a
    child of the caller's current span, if any, so ``ll.chat`` inside ``ll.span`` joins that trace.
    """

    def __init__(self, ctx: Context, *, model: str, request: ChatRequest, project: str | None) -> None:
        from llmloop.services.observe import semconv
        from llmloop.services.observe.tracer import span, writer_for
        from llmloop.services.serve.schemas import TargetSpec

        self.ctx, self.model, self.request, self.project = ctx, model, request, project
        self.started = time.perf_counter()
        sent: dict[str, Any] = request.model_dump(exclude_unset=True)
        self.root = span(
            "gateway chat",
            kind="server",
            project=project or ctx.settings.default_project,
            writer=writer_for(ctx),
            attributes={
                semconv.GEN_AI_OPERATION_NAME: "chat",
                semconv.GEN_AI_REQUEST_MODEL: model,
                semconv.GEN_AI_REQUEST_MAX_TOKENS: sent.get("max_tokens"),
                semconv.GEN_AI_REQUEST_TEMPERATURE: sent.get("temperature"),
                semconv.GEN_AI_REQUEST_TOP_P: sent.get("top_p"),
                semconv.USER_ID: request.user,
                semconv.GEN_AI_INPUT_MESSAGES: sent["messages"],
            },
        )
        target = TargetSpec(model=model).label
        self.root.set_attribute(semconv.LLMLOOP_TARGET, target)  # as the gateway's root says its target
        routing = span("routing", parent=self.root)
        routing.set_attributes({"llmloop.routing.policy": "single", "llmloop.routing.attempts": [target]})
        routing.end()
        self.attempt = span(
            f"chat {model}",
            kind="client",
            parent=self.root,
            attributes={
                semconv.GEN_AI_OPERATION_NAME: "chat",
                semconv.GEN_AI_REQUEST_MODEL: model,
                semconv.GEN_AI_SYSTEM: "llmloop",
                semconv.LLMLOOP_TARGET: target,
                "llmloop.attempt": 0,
            },
        )
        self.text: list[str] = []
        self.reasons: list[str] = []
        self.usage = (0, 0)
        self.answered: str | None = None

    def answer(self, engine: str | None, *, streamed: bool) -> Iterator[ChatCompletionChunk]:
        from llmloop.services.registry.inference import engine_for

        try:
            version, eng = engine_for(self.ctx, model=self.model, project=self.project, engine=engine)
        except BaseException as e:
            self._end(e)
            raise
        from llmloop.services.observe import semconv

        self.root.set_attribute(semconv.LLMLOOP_MODEL_VERSION, version.ref)
        return self._chunks(eng.chat(self.request), streamed)

    def _chunks(self, chunks: Iterator[ChatCompletionChunk], streamed: bool) -> Iterator[ChatCompletionChunk]:
        from llmloop.services.observe import semconv

        failed: BaseException | None = None
        try:
            for n, chunk in enumerate(chunks):
                if n == 0 and streamed:
                    ttft = (time.perf_counter() - self.started) * 1000.0
                    self.root.set_attribute(semconv.LLMLOOP_TTFT_MS, ttft)
                    self.attempt.add_event("first_token", {semconv.LLMLOOP_TTFT_MS: ttft})
                self.answered = chunk.model
                for ch in chunk.choices:
                    self.text.append(ch.delta.content or "")
                    if ch.finish_reason:
                        self.reasons.append(ch.finish_reason)
                if chunk.usage is not None:
                    self.usage = (chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                yield chunk
        except BaseException as e:  # includes the caller abandoning the stream (GeneratorExit)
            failed = e
            raise
        finally:
            self._end(failed)

    def _end(self, failed: BaseException | None) -> None:
        from llmloop.services.observe import semconv
        from llmloop.services.observe.tracer import MAX_ATTRIBUTE_CHARS
        from llmloop.services.serve.settings import cost_usd, gateway_settings

        root, attempt, usage = self.root, self.attempt, self.usage
        attempt.set_attributes(
            {
                semconv.GEN_AI_RESPONSE_MODEL: self.answered,
                semconv.GEN_AI_USAGE_INPUT_TOKENS: usage[0],
                semconv.GEN_AI_USAGE_OUTPUT_TOKENS: usage[1],
            }
        )
        if failed is None:  # as the gateway, an answer is recorded only when there is one
            root.set_attribute(semconv.GEN_AI_RESPONSE_MODEL, self.answered)
            if self.reasons:
                root.set_attribute(semconv.GEN_AI_RESPONSE_FINISH_REASONS, self.reasons)
            text = "".join(self.text)[:MAX_ATTRIBUTE_CHARS]
            root.set_attribute(semconv.GEN_AI_OUTPUT_MESSAGES, [{"role": "assistant", "content": text}])
            cost = cost_usd(gateway_settings().prices, (self.model, *filter(None, [self.answered])), *usage)
            if cost is not None:
                root.set_attribute(semconv.LLMLOOP_COST_USD, cost)
        root.set_attribute(semconv.LLMLOOP_LATENCY_MS, (time.perf_counter() - self.started) * 1000.0)
        for sp in (attempt, root):
            if failed is not None:
                sp.record_exception(failed)
            else:
                sp.set_status("ok")
            sp.end()
