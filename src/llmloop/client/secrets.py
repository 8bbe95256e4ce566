"""``client.secrets``: upstream credentials, write-only, in-process or over ``/api/v1/secrets``.

No verb returns a value; the value travels once, in the body of ``set_secret``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from llmloop.client.routes import Route
from llmloop.security.schemas import Secret, SecretSet

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context

ROUTES = [
    Route("secrets.list", "GET", "/secrets/{project}", "secrets:read", list[Secret]),
    Route("secrets.set", "PUT", "/secrets/{project}/{name}", "secrets:write", Secret, SecretSet),
    Route("secrets.delete", "DELETE", "/secrets/{project}/{name}", "secrets:write", status=204),
]


class Secrets(Protocol):
    def set_secret(self, project: str, name: str, value: str) -> Secret: ...
    def list_secrets(self, project: str) -> list[Secret]: ...
    def delete_secret(self, project: str, name: str) -> None: ...


class LocalSecrets:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def set_secret(self, project: str, name: str, value: str) -> Secret:
        from llmloop.security import vault

        return vault.set_secret(self.ctx, project=project, name=name, value=value)

    def list_secrets(self, project: str) -> list[Secret]:
        from llmloop.security import vault

        return vault.list_secrets(self.ctx, project=project)

    def delete_secret(self, project: str, name: str) -> None:
        from llmloop.security import vault

        vault.delete_secret(self.ctx, project=project, name=name)


class RemoteSecrets:
    def __init__(self, http: Http) -> None:
        self.http = http

    def set_secret(self, project: str, name: str, value: str) -> Secret:
        body = {"value": value}  # a dict: a SecretSet would write the value masked
        secret: Secret = self.http.call("secrets.set", path={"project": project, "name": name}, body=body)
        return secret

    def list_secrets(self, project: str) -> list[Secret]:
        items: list[Secret] = self.http.call("secrets.list", path={"project": project})
        return items

    def delete_secret(self, project: str, name: str) -> None:
        self.http.call("secrets.delete", path={"project": project, "name": name})
