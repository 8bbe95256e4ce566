"""The remote door: one pooled ``httpx.Client`` that makes the route table's calls and rebuilds errors.

Every ``Remote*`` sub-API of ``RemoteClient`` goes through ``Http.call`` (JSON in, JSON out) or
``Http.download`` / ``Http.upload`` (bytes), so the URL of a call is written once, in the table, and
an error envelope becomes the same exception class the service raised on the server.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
from pydantic import BaseModel, TypeAdapter

from llmloop.client.routes import Route
from llmloop.config import Settings
from llmloop.errors import LlmloopError, Unavailable, from_envelope

API = "/api/v1"


class Http:
    def __init__(
        self,
        settings: Settings,
        *,
        lookup: Callable[[str], Route],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``lookup`` finds a route by name (``client.table.route``): handed in, so this door imports no noun."""
        self.route = lookup
        if not settings.server_url:
            raise Unavailable("no server to talk to: LLMLOOP_SERVER_URL is not set")
        headers = {"user-agent": "llmloop-sdk"}
        if settings.api_key is not None:
            headers["authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self.base = settings.server_url.rstrip("/")
        self.client = httpx.Client(base_url=self.base, headers=headers, timeout=60.0, transport=transport)

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request under ``/api/v1``; an error answer raises the envelope's exception class."""
        try:
            resp = self.client.request(method, f"{API}{path}", **kwargs)
        except httpx.HTTPError as e:
            raise Unavailable(f"cannot reach llmloop server at {self.base}: {e}") from e
        if resp.status_code >= 400:
            raise _error(resp)
        return resp

    def call(
        self,
        name: str,
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: BaseModel | Mapping[str, Any] | None = None,
        content: bytes | IO[bytes] | None = None,
    ) -> Any:
        """Call the route ``name`` and return its answer validated as the route's response schema."""
        r = self.route(name)
        kwargs: dict[str, Any] = {}
        if query:
            kwargs["params"] = {k: v for k, v in query.items() if v is not None}
        if isinstance(body, BaseModel):
            kwargs["content"] = body.model_dump_json(exclude_unset=False)
            kwargs["headers"] = {"content-type": "application/json"}
        elif body is not None:
            kwargs["json"] = dict(body)
        elif content is not None:
            kwargs["content"] = content
        resp = self.request(r.method, r.url(**(path or {})), **kwargs)
        if r.response is None or not resp.content:
            return None
        return _adapter(r.response).validate_json(resp.content)

    @contextmanager
    def stream(
        self, name: str, *, path: Mapping[str, Any], query: Mapping[str, Any] | None = None
    ) -> Iterator[httpx.Response]:
        r = self.route(name)
        params = {k: v for k, v in (query or {}).items() if v is not None}
        with self.client.stream(r.method, f"{API}{r.url(**path)}", params=params) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise _error(resp)
            yield resp

    def download(
        self, name: str, dest: Path, *, path: Mapping[str, Any], query: Mapping[str, Any] | None = None
    ) -> Path:
        """Stream a byte answer to ``dest`` atomically (temp file + rename)."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        try:
            with os.fdopen(fd, "wb") as out, self.stream(name, path=path, query=query) as resp:
                for chunk in resp.iter_bytes():
                    out.write(chunk)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return dest


_adapters: dict[Any, TypeAdapter[Any]] = {}


def _adapter(schema: Any) -> TypeAdapter[Any]:
    adapter = _adapters.get(schema)
    if adapter is None:
        adapter = _adapters[schema] = TypeAdapter(schema)
    return adapter


def _error(resp: httpx.Response) -> LlmloopError:
    try:
        body = resp.json()
    except ValueError:
        return LlmloopError(f"server answered {resp.status_code}: {resp.text[:200]}")
    return from_envelope(body)
