"""One place renders every error the app answers, in one of two envelopes chosen by path:
``/api/v1`` (and the UI's JSON twins) get ``{"error": {"code", "message", "details"}}``; the OpenAI-compatible
gateway under ``/v1`` gets OpenAI's ``{"error": {"message", "type", "param", "code"}}``
(``server/gateway/errors.py``), so an error raised before a gateway handler runs (the app-wide
auth dependency, FastAPI's parsing, an unknown ``/v1`` path, a bug) is still one the official
``openai`` client understands. A UI page gets the same error as HTML (``server/ui/render.py``)."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmloop.errors import InvalidInput, LlmloopError
from llmloop.server.gateway.errors import error_body, is_gateway_path, openai_error
from llmloop.validation import dotted

log = logging.getLogger("llmloop.server")
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def error_response(err: LlmloopError) -> JSONResponse:
    return JSONResponse({"error": err.to_dict()}, status_code=err.http_status)


def render(request: Request, err: LlmloopError) -> Response:
    """``err`` in the envelope of the door ``request`` came through (a UI page's: HTML)."""
    from llmloop.server.ui.render import error_page, is_ui_html

    if is_ui_html(request):
        return error_page(request, err)
    return openai_error(err) if is_gateway_path(request.url.path) else error_response(err)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LlmloopError)
    async def _llmloop(request: Request, exc: LlmloopError) -> Response:
        return render(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = [{"field": dotted(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()]
        first = problems[0] if problems else {"field": "body", "message": "invalid"}
        err = InvalidInput(
            f"{first['field']}: {first['message']}", details={"errors": problems, "field": first["field"]}
        )
        return render(request, err)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        if is_gateway_path(request.url.path):
            body = error_body(exc.status_code, str(exc.detail), code=code)
        else:
            body = {"error": {"code": code, "message": str(exc.detail), "details": {}}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        trace = uuid.uuid4().hex[:12]
        log.exception("internal error %s", trace, exc_info=exc)
        message = f"internal error (id {trace})"
        if is_gateway_path(request.url.path):
            return JSONResponse(error_body(500, message, code="internal_error"), status_code=500)
        return JSONResponse(
            {"error": {"code": "internal_error", "message": message, "details": {}}}, status_code=500
        )
