"""``POST /v1/traces``: OTLP/HTTP ingest (protobuf or JSON). An export is decoded straight to rows and
checked (spans, the caller's rights per project, trace ids another project owns: 400 / 403 / 409, and
a refused export stores nothing), then queued whole on the server's batched writer, which is woken at
once (an export is a batch already) and stores it off the request path in one transaction, so the
exporter's next encode overlaps this store instead of waiting for it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from llmloop.errors import LlmloopError
from llmloop.refs import validate_name
from llmloop.server.auth import permission, request_actor
from llmloop.server.gateway.errors import error_body
from llmloop.server.gateway.handling import PROJECT_HEADER, get_gateway, parse_json, read_raw
from llmloop.services.observe.service import refuse_foreign_traces
from llmloop.services.observe.tracer import writer_for
from llmloop.services.serve.otlp import decompress, protobuf_response, spans_from_json, spans_from_protobuf

router = APIRouter(tags=["gateway"])


def _status_error(err: LlmloopError, protobuf: bool) -> Response:
    if protobuf:  # OTLP answers errors as google.rpc.Status; the message is what exporters log
        from google.rpc.status_pb2 import Status  # type: ignore[import-untyped]

        body = Status(code=3, message=err.message).SerializeToString()
        return Response(body, status_code=err.http_status, media_type="application/x-protobuf")
    # google.rpc.Status in JSON for OTLP exporters, and OpenAI's ``error`` object like the rest of /v1
    body = {"code": 3, "message": err.message, **error_body(err.http_status, err.message, code=err.code)}
    return JSONResponse(body, status_code=err.http_status)


@router.post("/traces", response_model=None, openapi_extra=permission("traces:write"))
async def ingest_traces(request: Request) -> Response:
    app_ctx = request.app.state.ctx
    ctx = app_ctx.as_actor(request_actor(request))  # the caller's rights, checked per project below
    limit = get_gateway(request).settings.max_body_bytes
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    protobuf = ctype != "application/json"
    project = request.headers.get(PROJECT_HEADER) or ctx.settings.default_project
    try:
        raw = decompress(await read_raw(request, limit), request.headers.get("content-encoding"), limit)
        if protobuf:
            spans = spans_from_protobuf(raw, project=project)
        else:
            spans = spans_from_json(parse_json(raw), project=project)
        for name in {s.project for s in spans}:
            validate_name(name, what="project")
            ctx.require("traces:write", name)
        # a trace id another project owns is refused now (409), not silently dropped by the writer
        await run_in_threadpool(refuse_foreign_traces, ctx, spans=spans)
    except LlmloopError as e:
        return _status_error(e, protobuf)
    writer_for(app_ctx).submit_batch(spans)  # the server's writer, shared by every caller
    if protobuf:
        return Response(protobuf_response(), media_type="application/x-protobuf")
    return JSONResponse({})
