"""The security contract shared by the CLI (``--json``), ``/api/v1`` and the SDK.

Secrets exist only in inputs and in the one response that creates them: ``ApiKeyCreated``
carries the key once; ``ApiKey`` only its prefix. ``SecretSet`` carries a value, ``Secret``
never does.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

_CONFIG = ConfigDict(extra="forbid", from_attributes=True)

Role = Literal["viewer", "member", "maintainer", "admin"]
UserKind = Literal["user", "service_account"]
# api: the owner's roles; api:read: the owner's roles capped at viewer; gateway: only /v1/* for `deployments`
Scope = Literal["api", "api:read", "gateway"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$"
PROJECT_PATTERN = r"^(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,127})$"
SECRET_VALUE_MAX_CHARS = 16384


class RoleBinding(BaseModel):
    model_config = _CONFIG

    project: str = Field(pattern=PROJECT_PATTERN, description="A project name, or '*' for every project.")
    role: Role


class User(BaseModel):
    model_config = _CONFIG

    id: str
    name: str
    kind: UserKind
    roles: list[RoleBinding] = Field(default_factory=list)
    has_password: bool = False
    disabled: bool = False
    created_at: float


class UserCreate(BaseModel):
    model_config = _CONFIG

    name: str = Field(pattern=NAME_PATTERN)
    kind: UserKind = "user"
    password: SecretStr | None = Field(None, description="For UI login; service accounts have none.")
    roles: list[RoleBinding] = Field(default_factory=list)


def _default_scopes() -> list[Scope]:
    return ["api"]


class ApiKeyCreate(BaseModel):
    model_config = _CONFIG

    user: str | None = Field(None, pattern=NAME_PATTERN, description="Owner; default: the caller.")
    name: str = Field("", max_length=128)
    scopes: list[Scope] = Field(default_factory=_default_scopes, min_length=1)
    deployments: list[str] = Field(
        default_factory=list, description="Deployments a 'gateway' key may call.", max_length=100
    )
    expires_in_s: float | None = Field(None, gt=0, le=10 * 365 * 86400)


class ApiKey(BaseModel):
    model_config = _CONFIG

    id: str
    user: str
    name: str
    prefix: str = Field(description="The visible start of the key, e.g. llk_ab12cd34.")
    scopes: list[str]
    deployments: list[str]
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None
    last_used_at: float | None = None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret key. Shown once: it is stored only as a hash.")


class RoleGrant(BaseModel):
    model_config = _CONFIG

    role: Role


class PasswordSet(BaseModel):
    model_config = _CONFIG

    password: SecretStr = Field(min_length=1, max_length=1024)


class AdminInit(BaseModel):
    """The first admin of a store that has no user yet (``llmloop admin init``)."""

    model_config = _CONFIG

    name: str = Field("admin", pattern=NAME_PATTERN)
    password: SecretStr | None = Field(None, description="For UI login; else the admin has a key only.")


class AdminInitResult(BaseModel):
    model_config = _CONFIG

    user: User
    key: ApiKeyCreated


class LoginRequest(BaseModel):
    model_config = _CONFIG

    username: str = Field(min_length=1, max_length=128)
    password: SecretStr = Field(min_length=1, max_length=1024)


class LoginResult(BaseModel):
    model_config = _CONFIG

    user: str
    csrf_token: str = Field(description="Send as X-CSRF-Token on every state-changing request.")
    expires_at: float


class Me(BaseModel):
    model_config = _CONFIG

    id: str
    kind: str
    roles: dict[str, str]
    via: str


class AuditEvent(BaseModel):
    model_config = _CONFIG

    seq: int
    ts: float
    actor: str
    actor_kind: str
    via: str
    action: str
    target: str
    project: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    prev_hash: str
    hash: str


class AuditVerifyReport(BaseModel):
    model_config = _CONFIG

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    head_seq: int | None = None
    head_hash: str | None = Field(None, description="Keep a copy elsewhere to detect a rewritten tail.")


class StoreVerifyReport(BaseModel):
    """Every artifact re-hashed: damage is a verdict (``ok`` false, the bad hashes named), not an error."""

    model_config = _CONFIG

    ok: bool
    checked: int
    bytes_checked: int
    corrupted: list[str]
    temp_files: list[str] = Field(
        default_factory=list, description="Leftovers of uploads that never finished (a killed writer)."
    )
    orphans: list[str] = Field(default_factory=list, description="Blobs that no row of the store refers to.")
    removed: list[str] = Field(
        default_factory=list, description="What --repair deleted: temp files and orphan blobs past the grace."
    )


class Secret(BaseModel):
    """What anyone may see of a stored upstream secret: never its value."""

    model_config = _CONFIG

    project: str
    name: str
    created_at: float
    updated_at: float
    created_by: str | None = None


class SecretSet(BaseModel):
    model_config = _CONFIG

    value: SecretStr = Field(min_length=1, max_length=SECRET_VALUE_MAX_CHARS)
