"""Fixtures shared by the security tests: each test module imports them all
(``from security_fixtures import *``, which brings the autouse ``clean_security_env_fixture``), so no
extra conftest.py is needed.

``team`` creates one identity per role on project ``p`` (admin is global) plus a read-only key
of a maintainer and a gateway-only key, and hands back their bearer keys.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llmloop.config import reset_settings
from llmloop.security import keys, users
from llmloop.security.schemas import ApiKeyCreate, RoleBinding, UserCreate
from llmloop.services.serve import service as deploy_service
from llmloop.services.serve.schemas import DeploymentCreate, DeploymentSpec, TargetSpec

SECURITY_ENV = (
    "LLMLOOP_MASTER_KEY",
    "LLMLOOP_MASTER_KEY_FILE",
    "LLMLOOP_ENCRYPT_ARTIFACTS",
    "LLMLOOP_AUTH_REQUIRED",
    "LLMLOOP_CORS_ORIGINS",
    "LLMLOOP_MAX_BODY_BYTES",
    "LLMLOOP_MAX_UPLOAD_BYTES",
    "LLMLOOP_LOGIN_MAX_FAILURES",
    "LLMLOOP_LOGIN_WINDOW_S",
)
PROJECT = "p"
__all__ = [
    "PROJECT",
    "Team",
    "add_key",
    "add_user",
    "clean_security_env_fixture",
    "master_key_fixture",
    "new_master_key",
    "sqlite_ctx_fixture",
    "team_fixture",
]


@pytest.fixture(autouse=True, name="clean_security_env")
def clean_security_env_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in SECURITY_ENV:
        monkeypatch.delenv(key, raising=False)
    yield


def new_master_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(name="master_key")
def master_key_fixture(monkeypatch: pytest.MonkeyPatch) -> str:
    key = new_master_key()
    monkeypatch.setenv("LLMLOOP_MASTER_KEY", key)
    reset_settings()
    return key


@pytest.fixture(name="sqlite_ctx")
def sqlite_ctx_fixture(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A Context on SQLite only: for tests of the HTTP layer and of pure artifact behaviour, where a
    second backend would add time and no coverage."""
    from llmloop.context import local_context

    monkeypatch.setenv("LLMLOOP_DATABASE_URL", f"sqlite:///{isolated_home / 'llmloop.db'}")
    reset_settings()
    return local_context()


@dataclass
class Team:
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {} if who == "nokey" else {"Authorization": f"Bearer {self.keys[who]}"}


def add_user(ctx: Any, name: str, roles: dict[str, str], **kw: Any) -> None:
    users.create_user(
        ctx,
        spec=UserCreate(name=name, roles=[RoleBinding(project=p, role=r) for p, r in roles.items()], **kw),  # type: ignore[arg-type]
    )


def add_key(ctx: Any, user: str, **kw: Any) -> str:
    return keys.create_key(ctx, spec=ApiKeyCreate(user=user, **kw)).key


@pytest.fixture(name="team")
def team_fixture(ctx: Any) -> Team:
    t = Team()
    for role in ("viewer", "member", "maintainer"):
        add_user(ctx, role, {PROJECT: role})
        t.keys[role] = add_key(ctx, role)
    add_user(ctx, "admin", {"*": "admin"})
    t.keys["admin"] = add_key(ctx, "admin")
    t.keys["readonly"] = add_key(ctx, "maintainer", scopes=["api:read"])
    deploy_service.create_deployment(
        ctx,
        spec=DeploymentCreate(
            name="chat",
            project=PROJECT,
            spec=DeploymentSpec(targets=[TargetSpec(model="m", upstream="http://127.0.0.1:9/v1")]),
        ),
    )  # a gateway key may name only a deployment its owner may invoke
    t.keys["gateway"] = add_key(ctx, "member", scopes=["gateway"], deployments=["chat"])
    return t
