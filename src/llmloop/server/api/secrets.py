"""/api/v1/secrets: upstream credentials, write-only. No route ever returns a value."""

from __future__ import annotations

from fastapi import APIRouter, Path

from llmloop.security import vault
from llmloop.security.schemas import PROJECT_PATTERN, Secret, SecretSet
from llmloop.server.deps import CtxDep
from llmloop.server.routes import mount

router = APIRouter(prefix="/secrets", tags=["secrets"])
ProjectName = Path(pattern=PROJECT_PATTERN)
SecretName = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@mount(router, "secrets.list")
def list_secrets(ctx: CtxDep, project: str = ProjectName) -> list[Secret]:
    return vault.list_secrets(ctx, project=project)


@mount(router, "secrets.set")
def set_secret(ctx: CtxDep, body: SecretSet, project: str = ProjectName, name: str = SecretName) -> Secret:
    return vault.set_secret(ctx, project=project, name=name, value=body.value.get_secret_value())


@mount(router, "secrets.delete")
def delete_secret(ctx: CtxDep, project: str = ProjectName, name: str = SecretName) -> None:
    vault.delete_secret(ctx, project=project, name=name)
