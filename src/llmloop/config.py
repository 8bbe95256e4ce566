"""Settings: one object reads every ``LLMLOOP_*`` variable.

``get_settings()`` is cached but never built at import time, so tests and the CLI can
point ``LLMLOOP_HOME`` elsewhere and call ``reset_settings()``.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MASK = "****"
# A parameter or field whose name contains one of these holds a credential: its value is never shown.
SENSITIVE_WORDS = ("pass", "pwd", "secret", "token", "key", "sig", "auth", "credential", "session")
_SENSITIVE = "|".join(SENSITIVE_WORDS)
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<info>[^/\s?#]*)@")
_PARAM = re.compile(
    rf"(?P<name>(?:^|(?<=[?&;\s,]))[\w.\-]*(?:{_SENSITIVE})[\w.\-]*=)(?P<value>[^&\s#,;]+)", re.I
)
_SCHEME_TOKEN = re.compile(r"\b(?P<scheme>[Bb]earer|Basic)\s+(?P<value>[A-Za-z0-9._~+/=\-]{4,})")
_KNOWN_KEY = re.compile(r"\b(?P<prefix>llk_[0-9a-f]{8}_|sk-|ghp_|xox[abp]-)(?P<value>[A-Za-z0-9_\-]{6,})")


def _comma_list(v: Any) -> Any:
    return [p.strip() for p in v.split(",") if p.strip()] if isinstance(v, str) else v


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLMLOOP_", extra="ignore")

    home: Path = Field(Path(".llmloop"), description="Folder for the embedded store, artifacts and caches.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in home.")
    artifacts_url: str | None = Field(None, description="fsspec URL for artifacts; default a folder in home.")
    server_url: str | None = Field(None, description="When set, the SDK and CLI talk to this server.")
    api_key: SecretStr | None = Field(None, description="API key sent to LLMLOOP_SERVER_URL.")
    executor: str = Field(
        "local", description="Pipeline steps: 'local' (a process each), 'inline', 'ray' or 'ray://host:port'."
    )
    default_project: str = Field("default", description="Project used when none is named.")
    flush_interval_s: float = Field(1.0, gt=0, description="How often buffered metrics are written.")
    upstream_env_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated environment variables a deployment or model may name (api_key_env) as "
        "its upstream key; empty: none (upstream keys come from the secrets store). Set by the operator.",
    )
    upstream_url_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated URL prefixes (https://api.openai.com/v1) upstreams may point at; "
        "empty: any http(s) URL.",
    )

    _lists = field_validator("upstream_env_allow", "upstream_url_allow", mode="before")(_comma_list)

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'llmloop.db'}"

    @property
    def resolved_artifacts_url(self) -> str:
        return self.artifacts_url or str(self.home / "artifacts")

    def public_dict(self) -> dict[str, Any]:
        """Every setting's resolved value for display, each through ``mask_secrets`` (secret fields as ``****``).

        It walks the fields rather than naming them, so a setting added later is masked too.
        """
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in ("database_url", "artifacts_url"):
                value = getattr(self, f"resolved_{name}")
            out[name] = _shown(value)
        return out


def _shown(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, (list, tuple)):
        return [_shown(v) for v in value]
    if isinstance(value, (str, Path)):
        return mask_secrets(str(value))
    return value


def is_sensitive_name(name: str) -> bool:
    """Whether a parameter, header or field called ``name`` holds a credential (``password``, ``api_key``...)."""
    return re.search(_SENSITIVE, name, re.I) is not None


def mask_secrets(text: str) -> str:
    """``text`` with every credential form replaced by ``****``: the one masking function.

    Masks URL userinfo (``scheme://user:****@host``, a lone token ``scheme://****@host``), the
    value of any ``name=value`` whose name looks like a credential (``?password=``, ``&X-Amz-Signature=``,
    ``api_key=``, libpq's ``password=``), ``Bearer``/``Basic`` schemes, and keys with a
    known shape (``llk_…``, ``sk-…``). Every output that may carry a URL or an upstream's words
    (settings shown, error messages, logs, read models) goes through here.
    """
    text = _USERINFO.sub(_mask_userinfo, text)
    text = _PARAM.sub(lambda m: m["name"] + MASK, text)
    text = _SCHEME_TOKEN.sub(lambda m: f"{m['scheme']} {MASK}", text)
    return _KNOWN_KEY.sub(lambda m: m["prefix"] + MASK, text)


def _mask_userinfo(m: re.Match[str]) -> str:
    info = m["info"]
    shown = f"{info.split(':', 1)[0]}:{MASK}" if ":" in info else MASK
    return f"{m['scheme']}{shown}@"


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from ``LLMLOOP_*``; a bad value is InvalidInput naming the setting, not a traceback."""
    from llmloop.validation import format_validation_error

    try:
        return Settings()
    except ValidationError as e:
        raise format_validation_error(e, where="LLMLOOP_* settings", model=Settings) from None


def reset_settings() -> None:
    """Forget cached settings (and everything built from them) after the environment changed."""
    get_settings.cache_clear()
    from llmloop.store import db

    db.dispose_all()


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in {"1", "true", "yes", "on"}
