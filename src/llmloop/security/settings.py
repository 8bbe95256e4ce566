"""Security settings: their own ``LLMLOOP_*`` variables, read fresh on each use.

They live apart from ``llmloop.config.Settings`` so the core settings stay small, and they
are not cached: a test or an operator who changes the master key or the auth switch is
seen at once (reading them costs well under a millisecond).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from llmloop.errors import InvalidInput


class SecuritySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLMLOOP_", extra="ignore")

    auth_required: bool = Field(
        False, description="Require credentials even before any user exists (else: on once a user exists)."
    )
    master_key: SecretStr | None = Field(
        None, description="Base64 of 32 random bytes: the key that wraps every data key (AES-256-GCM)."
    )
    master_key_file: Path | None = Field(
        None, description="File holding the master key (base64 or 32 raw bytes)."
    )
    encrypt_artifacts: bool = Field(False, description="Encrypt new artifacts at rest with the master key.")
    max_body_bytes: int = Field(
        16 << 20, gt=0, description="Largest JSON/form request body accepted (413 above)."
    )
    max_upload_bytes: int = Field(
        50 << 30, gt=0, description="Largest streamed upload (application/octet-stream) accepted."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; none by default."
    )
    login_max_failures: int = Field(5, ge=1, description="Failed logins per user or address before 429.")
    login_window_s: float = Field(300.0, gt=0, description="Window over which failed logins are counted.")
    session_ttl_s: float = Field(12 * 3600.0, gt=0, description="Lifetime of a UI login session.")

    def public_dict(self) -> dict[str, Any]:
        """For display: the master key is never shown, only whether one is set."""
        return {
            "auth_required": self.auth_required,
            "master_key": "****" if self.master_key else None,
            "master_key_file": str(self.master_key_file) if self.master_key_file else None,
            "encrypt_artifacts": self.encrypt_artifacts,
            "max_body_bytes": self.max_body_bytes,
            "cors_origins": self.cors_origins,
        }


def security_settings() -> SecuritySettings:
    return SecuritySettings()


def decode_key(text: str | bytes, *, source: str) -> bytes:
    """A 32-byte key from base64 text (or raw bytes from a file); a clear error otherwise."""
    raw = text if isinstance(text, bytes) else text.encode()
    if len(raw) == 32 and isinstance(text, bytes):
        return raw
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise InvalidInput(
            f"{source} must be 32 random bytes in base64 (e.g. `head -c32 /dev/urandom | base64`)",
            details={"key": source},
        )
    return key
