"""Settings: one object reads every ``LLMLOOP_*`` variable.

``get_settings()`` is cached but never built at import time, so tests and the CLI can
point ``LLMLOOP_HOME`` elsewhere and call ``reset_settings()``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLMLOOP_", extra="ignore")

    home: Path = Field(Path(".llmloop"), description="Folder for the embedded store, artifacts and caches.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in home.")
    artifacts_url: str | None = Field(None, description="fsspec URL for artifacts; default a folder in home.")
    server_url: str | None = Field(None, description="When set, the SDK and CLI talk to this server.")
    api_key: SecretStr | None = Field(None, description="API key sent to LLMLOOP_SERVER_URL.")
    executor: str = Field("local", description="'local' or 'ray://host:port'.")
    default_project: str = Field("default", description="Project used when none is named.")
    flush_interval_s: float = Field(1.0, gt=0, description="How often buffered metrics are written.")

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
        """Resolved values for display; secrets and URL passwords masked."""
        return {
            "home": str(self.home),
            "database_url": mask_url(self.resolved_database_url),
            "artifacts_url": mask_url(self.resolved_artifacts_url),
            "server_url": mask_url(self.server_url) if self.server_url else None,
            "api_key": "****" if self.api_key else None,
            "executor": self.executor,
            "default_project": self.default_project,
            "flush_interval_s": self.flush_interval_s,
        }


def mask_url(url: str) -> str:
    """Hide the password part of ``scheme://user:password@host``."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":****"
    return f"{scheme}://{creds}@{host}"


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
