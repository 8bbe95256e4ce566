"""One place renders errors for /api/v1: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmloop.errors import InvalidInput, LlmloopError
from llmloop.validation import dotted

log = logging.getLogger("llmloop.server")


def error_response(err: LlmloopError) -> JSONResponse:
    return JSONResponse({"error": err.to_dict()}, status_code=err.http_status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LlmloopError)
    async def _llmloop(_: Request, exc: LlmloopError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"field": dotted(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()]
        first = problems[0] if problems else {"field": "body", "message": "invalid"}
        return error_response(
            InvalidInput(f"{first['field']}: {first['message']}", details={"errors": problems})
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            {"error": {"code": code, "message": str(exc.detail), "details": {}}}, status_code=exc.status_code
        )

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        trace = uuid.uuid4().hex[:12]
        log.exception("internal error %s", trace, exc_info=exc)
        return JSONResponse(
            {"error": {"code": "internal_error", "message": f"internal error (id {trace})", "details": {}}},
            status_code=500,
        )
