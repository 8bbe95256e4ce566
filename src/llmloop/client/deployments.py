"""``client.deployments``: deployments (immutable revisions) and chat with what they serve.

``chat`` / ``stream_chat`` are ``ll.chat``: locally the registered model answers in this process
and the request is traced as the gateway traces one; remotely the request goes to the server's
gateway (``/v1/chat/completions``), which resolves the name there (deployment or registered model),
applies its guardrails and limits, and records the trace in the server's store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from llmloop.client.routes import Route
from llmloop.errors import InvalidInput, LlmloopError, Unavailable, from_envelope
from llmloop.services.serve.schemas import (
    Deployment,
    DeploymentCreate,
    DeploymentPage,
    DeploymentStatus,
    RollbackRequest,
)

if TYPE_CHECKING:
    import httpx

    from llmloop.client.http import Http
    from llmloop.context import Context
    from llmloop.engines.schemas import ChatCompletion, ChatCompletionChunk, ChatRequest

R, W = "deployments:read", "deployments:write"
ROUTES = [
    Route("deployments.create", "POST", "/deployments", W, Deployment, DeploymentCreate, status=201),
    Route("deployments.list", "GET", "/deployments", R, DeploymentPage),
    Route("deployments.get", "GET", "/deployments/{name}", R, Deployment),
    Route("deployments.revisions", "GET", "/deployments/{name}/revisions", R, DeploymentPage),
    Route("deployments.status", "GET", "/deployments/{name}/status", R, DeploymentStatus),
    Route(
        "deployments.rollback",
        "POST",
        "/deployments/{name}/rollback",
        W,
        Deployment,
        RollbackRequest,
        status=201,
    ),
]


class Deployments(Protocol):
    def create_deployment(self, spec: DeploymentCreate) -> Deployment: ...
    def list_deployments(self, project: str | None = None) -> DeploymentPage: ...
    def get_deployment(
        self, name: str, project: str | None = None, revision: int | None = None
    ) -> Deployment: ...
    def list_revisions(self, name: str, project: str | None = None) -> list[Deployment]: ...
    def deployment_status(
        self, name: str, project: str | None = None, since: float | None = None
    ) -> DeploymentStatus: ...
    def rollback_deployment(
        self, name: str, project: str | None = None, to_revision: int | None = None
    ) -> Deployment: ...
    def chat(
        self, model: str, request: ChatRequest, *, engine: str | None = None, project: str | None = None
    ) -> ChatCompletion: ...
    def stream_chat(
        self, model: str, request: ChatRequest, *, engine: str | None = None, project: str | None = None
    ) -> Iterator[ChatCompletionChunk]: ...


class LocalDeployments:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def create_deployment(self, spec: DeploymentCreate) -> Deployment:
        from llmloop.services.serve import service

        return service.create_deployment(self.ctx, spec=spec)

    def list_deployments(self, project: str | None = None) -> DeploymentPage:
        from llmloop.services.serve import service

        return service.list_deployments(self.ctx, project=project)

    def get_deployment(
        self, name: str, project: str | None = None, revision: int | None = None
    ) -> Deployment:
        from llmloop.services.serve import service

        return service.get_deployment(self.ctx, name=name, project=project, revision=revision)

    def list_revisions(self, name: str, project: str | None = None) -> list[Deployment]:
        from llmloop.services.serve import service

        return service.list_deployment_revisions(self.ctx, name=name, project=project)

    def deployment_status(
        self, name: str, project: str | None = None, since: float | None = None
    ) -> DeploymentStatus:
        from llmloop.services.serve.live import deployment_status

        return deployment_status(self.ctx, name=name, project=project, since=since)

    def rollback_deployment(
        self, name: str, project: str | None = None, to_revision: int | None = None
    ) -> Deployment:
        from llmloop.services.serve import service

        return service.rollback_deployment(self.ctx, name=name, project=project, to_revision=to_revision)

    def chat(
        self, model: str, request: ChatRequest, *, engine: str | None = None, project: str | None = None
    ) -> ChatCompletion:
        from llmloop.services.serve import service

        return service.chat(self.ctx, model=model, request=request, engine=engine, project=project)

    def stream_chat(
        self, model: str, request: ChatRequest, *, engine: str | None = None, project: str | None = None
    ) -> Iterator[ChatCompletionChunk]:
        from llmloop.services.serve import service

        return service.stream_chat(self.ctx, model=model, request=request, engine=engine, project=project)


class RemoteDeployments:
    def __init__(self, http: Http) -> None:
        self.http = http

    def create_deployment(self, spec: DeploymentCreate) -> Deployment:
        out: Deployment = self.http.call("deployments.create", body=spec)
        return out

    def list_deployments(self, project: str | None = None) -> DeploymentPage:
        page: DeploymentPage = self.http.call("deployments.list", query={"project": project})
        return page

    def get_deployment(
        self, name: str, project: str | None = None, revision: int | None = None
    ) -> Deployment:
        out: Deployment = self.http.call(
            "deployments.get", path={"name": name}, query={"project": project, "revision": revision}
        )
        return out

    def list_revisions(self, name: str, project: str | None = None) -> list[Deployment]:
        page: DeploymentPage = self.http.call(
            "deployments.revisions", path={"name": name}, query={"project": project}
        )
        return page.items

    def deployment_status(
        self, name: str, project: str | None = None, since: float | None = None
    ) -> DeploymentStatus:
        out: DeploymentStatus = self.http.call(
            "deployments.status", path={"name": name}, query={"project": project, "since": since}
        )
        return out

    def rollback_deployment(
        self, name: str, project: str | None = None, to_revision: int | None = None
    ) -> Deployment:
        body = RollbackRequest(to_revision=to_revision, project=project)
        out: Deployment = self.http.call("deployments.rollback", path={"name": name}, body=body)
        return out

    # -- the gateway ---------------------------------------------------------------------------------
    def chat(
        self, model: str, request: ChatRequest, *, engine: str | None = None, project: str | None = None
    ) -> ChatCompletion:
        from llmloop.engines.schemas import ChatCompletion

        body = _gateway_body(model, request, engine, project, stream=False)
        resp = self._send(lambda: self.http.client.post("/v1/chat/completions", json=body))
        return ChatCompletion.model_validate_json(resp.content)

    def stream_chat(
        self, model: str, request: ChatRequest, *, engine: str | None = None, project: str | None = None
    ) -> Iterator[ChatCompletionChunk]:
        body = _gateway_body(model, request, engine, project, stream=True)
        body["stream_options"] = {"include_usage": True}  # the last chunk carries usage, as locally
        return self._chunks(body)

    def _chunks(self, body: dict[str, Any]) -> Iterator[ChatCompletionChunk]:
        import httpx

        from llmloop.engines.schemas import ChatCompletionChunk

        try:
            with self.http.client.stream("POST", "/v1/chat/completions", json=body) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise _gateway_error(resp)
                for line in resp.iter_lines():
                    data = line.removeprefix("data:").strip() if line.startswith("data:") else ""
                    if not data:
                        continue
                    if data == "[DONE]":
                        return
                    doc = json.loads(data)
                    if isinstance(doc, dict) and "error" in doc:
                        raise from_envelope(doc)  # an error after the first chunk arrives in the stream
                    yield ChatCompletionChunk.model_validate(doc)
        except httpx.HTTPError as e:
            raise Unavailable(f"cannot reach llmloop server at {self.http.base}: {e}") from e

    def _send(self, request: Any) -> httpx.Response:
        import httpx

        try:
            resp: httpx.Response = request()
        except httpx.HTTPError as e:
            raise Unavailable(f"cannot reach llmloop server at {self.http.base}: {e}") from e
        if resp.status_code >= 400:
            raise _gateway_error(resp)
        return resp


def _gateway_body(
    model: str, request: ChatRequest, engine: str | None, project: str | None, *, stream: bool
) -> dict[str, Any]:
    """The OpenAI request body the gateway takes: what the caller set, nothing defaulted here."""
    if engine is not None:
        raise InvalidInput(
            f"engine={engine!r}: through a server, its gateway picks the engine; leave engine out",
            details={"field": "engine"},
        )
    if project is not None:
        raise InvalidInput(
            f"project={project!r}: a server's gateway serves its default project; leave project out",
            details={"field": "project"},
        )
    body = request.model_dump(mode="json", exclude_unset=True)
    body.update(model=model, stream=stream)
    return body


def _gateway_error(resp: httpx.Response) -> LlmloopError:
    """The gateway answers errors in OpenAI's shape; its ``code`` is llmloop's, so the class comes back."""
    try:
        return from_envelope(resp.json())
    except ValueError:
        return LlmloopError(f"gateway answered {resp.status_code}: {resp.text[:200]}")
