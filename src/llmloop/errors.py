"""One error tree for every interface.

    LlmloopError                 code            HTTP  exit
    ├── InvalidInput             invalid_input    400   2   file, flag, body, YAML key
    ├── NotFound                 not_found        404   2   unknown NAME, @VERSION, @ALIAS, run id
    ├── Conflict                 conflict         409   2   exists already, immutable, alias race
    ├── Unauthenticated          unauthenticated  401   2
    ├── PermissionDenied         permission_denied 403  2
    ├── RateLimited              rate_limited     429   2
    ├── Unavailable              unavailable      503   2   engine, upstream, DB, missing extra
    └── DataCorrupted            data_corrupted   500   2   hash mismatch, broken audit chain

Each class carries its rendering as class attributes so the CLI, the REST API and the
remote SDK translate errors in exactly one place each. ``details`` says *where*
(``{"file": "a.jsonl", "line": 12}``, ``{"key": "training.lr"}``); messages must be
safe to show to a client: no secrets, no SQL.
"""

from __future__ import annotations

from typing import Any


class LlmloopError(Exception):
    code = "internal_error"
    http_status = 500
    exit_code = 2

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidInput(LlmloopError):
    code = "invalid_input"
    http_status = 400


class NotFound(LlmloopError):
    code = "not_found"
    http_status = 404


class Conflict(LlmloopError):
    code = "conflict"
    http_status = 409


class Unauthenticated(LlmloopError):
    code = "unauthenticated"
    http_status = 401


class PermissionDenied(LlmloopError):
    code = "permission_denied"
    http_status = 403


class RateLimited(LlmloopError):
    code = "rate_limited"
    http_status = 429


class Unavailable(LlmloopError):
    code = "unavailable"
    http_status = 503


class DataCorrupted(LlmloopError):
    code = "data_corrupted"
    http_status = 500


ERROR_CLASSES: dict[str, type[LlmloopError]] = {
    cls.code: cls
    for cls in (
        InvalidInput,
        NotFound,
        Conflict,
        Unauthenticated,
        PermissionDenied,
        RateLimited,
        Unavailable,
        DataCorrupted,
    )
}


def from_envelope(body: dict[str, Any]) -> LlmloopError:
    """Rebuild the error a server raised from its JSON envelope, so remote calls raise local classes."""
    err = body.get("error", {}) if isinstance(body, dict) else {}
    cls = ERROR_CLASSES.get(str(err.get("code")), LlmloopError)
    return cls(str(err.get("message", "unknown error")), details=err.get("details") or {})
