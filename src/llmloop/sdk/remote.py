"""The client for a remote server: the same schemas over ``/api/v1``, errors rebuilt from the envelope."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import httpx

from llmloop.config import Settings
from llmloop.errors import InvalidInput, LlmloopError, Unavailable, from_envelope
from llmloop.services.tracking.schemas import (
    MetricPoint,
    Run,
    RunArtifact,
    RunBatch,
    RunCreate,
    RunPage,
    RunSearch,
)


class RemoteClient:
    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        assert settings.server_url
        headers = {"user-agent": "llmloop-sdk"}
        if settings.api_key is not None:
            headers["authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self.base = settings.server_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base, headers=headers, timeout=60.0, transport=transport)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        if isinstance(kwargs.get("content"), str):  # a schema's JSON
            kwargs.setdefault("headers", {})["content-type"] = "application/json"
        try:
            resp = self.http.request(method, f"/api/v1{path}", **kwargs)
        except httpx.HTTPError as e:
            raise Unavailable(f"cannot reach llmloop server at {self.base}: {e}") from e
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                raise LlmloopError(f"server answered {resp.status_code}: {resp.text[:200]}") from None
            raise from_envelope(body)
        return resp.json() if resp.content else None

    def create_run(self, spec: RunCreate) -> Run:
        return Run.model_validate(self._call("POST", "/runs", content=spec.model_dump_json()))

    def log_batch(self, run_id: str, batch: RunBatch) -> None:
        self._call("POST", f"/runs/{run_id}/batch", content=batch.model_dump_json())

    def get_run(self, run_id: str) -> Run:
        return Run.model_validate(self._call("GET", f"/runs/{run_id}"))

    def search_runs(self, query: RunSearch) -> RunPage:
        return RunPage.model_validate(self._call("POST", "/runs/search", content=query.model_dump_json()))

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        data = self._call("GET", f"/runs/{run_id}/metrics/{key}")
        return [MetricPoint.model_validate(p) for p in data["items"]]

    def log_artifact(self, run_id: str, path: Path, name: str | None = None) -> RunArtifact:
        p = Path(path)
        if not p.is_file():
            raise InvalidInput(f"artifact file not found: {p}", details={"path": str(p)})
        with p.open("rb") as fh:
            data = self._call("PUT", f"/runs/{run_id}/artifacts/{name or p.name}", content=fh)
        return RunArtifact.model_validate(data)

    def download_artifact(self, run_id: str, name: str, dest: Path) -> Path:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        try:
            with (
                os.fdopen(fd, "wb") as out,
                self.http.stream("GET", f"/api/v1/runs/{run_id}/artifacts/{name}") as r,
            ):
                if r.status_code >= 400:
                    r.read()
                    raise from_envelope(r.json())
                for chunk in r.iter_bytes():
                    out.write(chunk)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return dest
