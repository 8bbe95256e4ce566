"""Errors in OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, so the official
client raises its matching class (``BadRequestError``, ``NotFoundError``, ``RateLimitError``…).

Every error under ``/v1`` takes this shape, wherever it is raised: in a gateway handler, in the
app-wide auth dependency, in FastAPI's request parsing, in the body-size middleware, or as a bug
(``server/errors.py`` and ``server/security.py`` ask ``is_gateway_path`` and render with
``openai_error``). ``/api/v1`` keeps llmloop's own envelope.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from llmloop.errors import LlmloopError

TRACE_HEADER = "x-llmloop-trace-id"
PREFIX = "/v1"
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "service_unavailable",
}


def is_gateway_path(path: str) -> bool:
    """Whether ``path`` is served by the OpenAI-compatible gateway (and so answers in its shape)."""
    return path == PREFIX or path.startswith(PREFIX + "/")


def error_body(status: int, message: str, *, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": _TYPES.get(status, "api_error"), "param": param, "code": code}
    }


def openai_error(
    err: LlmloopError,
    *,
    trace_id: str | None = None,
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    status = status or err.http_status
    param = err.details.get("field") or err.details.get("param")
    out = dict(headers or {})
    if trace_id:
        out[TRACE_HEADER] = trace_id
    retry = err.details.get("retry_after_s")
    if status == 429 and isinstance(retry, (int, float)):
        out["retry-after"] = str(max(1, int(retry + 0.999)))
    return JSONResponse(
        error_body(status, err.message, code=err.code, param=str(param) if param else None),
        status_code=status,
        headers=out,
    )
