"""Safe HTTP defaults: bounded bodies, security headers, CORS closed unless configured, auth on every route.

The two middlewares are plain ASGI (not ``BaseHTTPMiddleware``) so streamed uploads and
downloads pass through without being buffered.
"""

from __future__ import annotations

import json

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmloop.security.ratelimit import FailureLimiter
from llmloop.security.settings import SecuritySettings, security_settings
from llmloop.server.auth import AuthState
from llmloop.server.gateway.errors import error_body, is_gateway_path

HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
    b"content-security-policy": b"frame-ancestors 'none'; object-src 'none'; base-uri 'none'",
}


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` while a route reads its body; rendered as a 413 envelope."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {limit} bytes")


class BodyLimitMiddleware:
    """413 for bodies over the limit: at once from Content-Length, or as soon as a stream passes it.

    Raw uploads (``application/octet-stream``, artifact PUTs) get the larger upload limit.
    """

    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        raw = headers.get(b"content-type", b"").split(b";")[0].strip() == b"application/octet-stream"
        limit = self.max_upload if raw else self.max_body
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _send_413(send, limit, gateway=is_gateway_path(scope.get("path", "")))
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)


async def _send_413(send: Send, limit: int, *, gateway: bool) -> None:
    """The 413 in the envelope of the door the request came through (OpenAI's under ``/v1``)."""
    message = f"request body is larger than the limit of {limit} bytes"
    if gateway:
        doc = error_body(413, message, code="too_large", param="body")
    else:
        doc = {"error": {"code": "too_large", "message": message, "details": {"limit": limit}}}
    body = json.dumps(doc).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": [*headers, *HEADERS.items()]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeadersMiddleware:
    """Adds the security headers a route did not set itself (a UI page may send a stricter CSP)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS.items() if k not in present]
                if https and b"strict-transport-security" not in present:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def install_security(app: FastAPI, settings: SecuritySettings | None = None) -> None:
    """Middlewares and per-app state for auth; ``create_app`` calls it once."""
    settings = settings or security_settings()
    app.state.auth = AuthState()
    app.state.login_limiter = FailureLimiter(settings.login_max_failures, settings.login_window_s)
    # an address may be shared (NAT, a proxy without forwarded headers): give it more room than one name
    app.state.login_ip_limiter = FailureLimiter(settings.login_max_failures * 4, settings.login_window_s)
    app.state.security = settings
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["authorization", "content-type", "x-csrf-token"],
            allow_credentials=False,
        )
    app.add_middleware(
        BodyLimitMiddleware, max_body=settings.max_body_bytes, max_upload=settings.max_upload_bytes
    )
    app.add_middleware(SecurityHeadersMiddleware)
