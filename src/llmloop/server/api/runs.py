"""/api/v1/runs: the tracking service over HTTP, same schemas as the SDK.

The busy routes return their model already serialised (``_json``): FastAPI would otherwise
validate the returned model again, on a second trip through its thread pool, before
serialising it, which costs more than a small request itself. ``response_model`` still
documents them in OpenAPI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from llmloop.server.deps import CtxDep
from llmloop.server.routes import mount
from llmloop.services.tracking import service
from llmloop.services.tracking.schemas import (
    MetricHistory,
    RunArtifact,
    RunBatch,
    RunCreate,
    RunSearch,
)
from llmloop.store.artifacts import safe_relpath

router = APIRouter(prefix="/runs", tags=["runs"])


def _json(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as JSON, NaN and ±inf as strings, serialised once by pydantic-core."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


@mount(router, "runs.create")
def create_run(ctx: CtxDep, spec: RunCreate) -> Response:
    return _json(service.create_run(ctx, spec=spec), 201)


@mount(router, "runs.list")
def list_runs(
    ctx: CtxDep,
    project: str | None = None,
    filter: str | None = Query(None, max_length=4000),
    order_by: list[str] = Query(default_factory=list),
    limit: int = Query(100, ge=1, le=10000),
    page_token: str | None = None,
) -> Response:
    query = RunSearch(project=project, filter=filter, order_by=order_by, limit=limit, page_token=page_token)
    return _json(service.search_runs(ctx, query=query))


@mount(router, "runs.search")
def search_runs(ctx: CtxDep, query: RunSearch) -> Response:
    return _json(service.search_runs(ctx, query=query))


@mount(router, "runs.get")
def get_run(ctx: CtxDep, run_id: str) -> Response:
    return _json(service.get_run(ctx, run_id=run_id))


@mount(router, "runs.log_batch")
def log_batch(ctx: CtxDep, run_id: str, batch: RunBatch) -> None:
    service.log_batch(ctx, run_id=run_id, batch=batch)


@mount(router, "runs.metric_history")
def metric_history(ctx: CtxDep, run_id: str, key: str) -> Response:
    return _json(MetricHistory(items=service.metric_history(ctx, run_id=run_id, key=key)))


@mount(router, "runs.upload_artifact")
async def upload_artifact(ctx: CtxDep, run_id: str, name: str, request: Request) -> RunArtifact:
    """Stream the body into the artifact store without holding it in memory."""
    import asyncio
    import os

    rel = safe_relpath(name)
    service.get_run(ctx, run_id=run_id)
    fd, tmp = ctx.artifacts.temp_file()  # where ``store verify`` finds it if this server is killed
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
        blob = await asyncio.to_thread(ctx.artifacts.put_file, tmp)
    finally:
        os.unlink(tmp)
    return service.record_artifact(ctx, run_id=run_id, name=rel, sha256=blob.sha256, size=blob.size)


@mount(router, "runs.download_artifact")
def download_artifact(ctx: CtxDep, run_id: str, name: str) -> StreamingResponse:
    art = service.artifact_of(ctx, run_id=run_id, name=name)

    def body() -> Iterator[bytes]:
        yield from ctx.artifacts.iter_chunks(art.sha256)

    return StreamingResponse(
        body(),
        media_type="application/octet-stream",
        headers={"x-llmloop-sha256": art.sha256, "content-length": str(art.size)},
    )


@mount(router, "runs.hold")
async def hold_run(
    ctx: CtxDep, run_id: str, seconds: float = Query(0, ge=0, le=service.MAX_HOLD_S)
) -> StreamingResponse:
    """Keep the run tied to this connection for ``seconds``, sending a byte each second.

    The answer ends when the time is up or the run ends; if the client goes away first, the
    run is marked killed after a short grace (``service.release_run``).
    """
    import asyncio
    import time

    await asyncio.to_thread(service.check_hold, ctx, run_id=run_id)

    async def beats() -> AsyncIterator[bytes]:
        finished = False
        service.hold_run(run_id)  # here, not before: an answer never started holds nothing
        try:
            until = time.monotonic() + seconds
            while time.monotonic() < until and await asyncio.to_thread(
                service.run_is_running, ctx, run_id=run_id
            ):
                yield b"."
                await asyncio.sleep(min(1.0, max(0.0, until - time.monotonic())))
            finished = True
        finally:
            service.release_run(ctx, run_id=run_id, lost=not finished)

    return StreamingResponse(beats(), media_type="application/octet-stream")
