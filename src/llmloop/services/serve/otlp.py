"""OTLP/HTTP trace ingest: ``ExportTraceServiceRequest`` (protobuf or JSON) → ``SpanRecord``s.

Any app instrumented with OpenTelemetry (OpenLLMetry, OpenInference…) can point its OTLP
exporter at llmloop. Resource attributes are copied onto each span (so ``service.name`` is
searchable); the project is the resource attribute ``llmloop.project`` when present, else the
one the caller names. In OTLP/JSON ids are hex and 64-bit integers are strings; in protobuf
ids are bytes; both land as the same records.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

from llmloop.errors import InvalidInput
from llmloop.services.observe.schemas import SpanEvent, SpanKind, SpanRecord, StatusCode
from llmloop.services.observe.tracer import MAX_ATTRIBUTE_CHARS, attribute_value

PROJECT_ATTRIBUTE = "llmloop.project"
_KINDS: dict[int, SpanKind] = {
    0: "internal",
    1: "internal",
    2: "server",
    3: "client",
    4: "producer",
    5: "consumer",
}
_STATUS: dict[int, StatusCode] = {0: "unset", 1: "ok", 2: "error"}
_KIND_NAMES = {f"SPAN_KIND_{v.upper()}": k for k, v in _KINDS.items() if k}
_SCALARS = frozenset({"string_value", "bool_value", "int_value", "double_value"})
_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    if not encoding or encoding == "identity":
        return body
    if encoding not in ("gzip", "deflate"):
        raise InvalidInput(
            f"unsupported content-encoding {encoding!r}", details={"field": "content-encoding"}
        )
    d = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    try:
        out = d.decompress(body, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as e:
        raise InvalidInput(f"body is not valid {encoding}", details={"field": "body"}) from e
    if len(out) > limit:
        raise InvalidInput(f"decompressed body over {limit} bytes", details={"limit": limit})
    return out


# -- JSON -------------------------------------------------------------------------------------------
def _json_value(v: Any) -> Any:
    if not isinstance(v, dict):
        return None
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "arrayValue" in v:
        return [_json_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in v:
        return _json_attrs((v["kvlistValue"] or {}).get("values", []))
    return None


def _json_attrs(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in items or []:
        if isinstance(kv, dict) and isinstance(kv.get("key"), str):
            value = attribute_value(_json_value(kv.get("value")))
            if value is not None:
                out[kv["key"]] = value
    return out


def _enum(v: Any, names: dict[str, int]) -> int:
    return names.get(v, 0) if isinstance(v, str) else int(v or 0)


def spans_from_json(doc: Any, *, project: str) -> list[SpanRecord]:
    if not isinstance(doc, dict):
        raise InvalidInput("OTLP JSON body must be an object", details={"field": "body"})
    out: list[SpanRecord] = []
    try:
        for rs in doc.get("resourceSpans") or []:
            resource = _json_attrs((rs.get("resource") or {}).get("attributes"))
            proj = str(resource.get(PROJECT_ATTRIBUTE) or project)
            for ss in rs.get("scopeSpans") or []:
                for sp in ss.get("spans") or []:
                    status = sp.get("status") or {}
                    attrs = {**resource, **_json_attrs(sp.get("attributes"))}
                    out.append(
                        SpanRecord(
                            trace_id=str(sp["traceId"]).lower(),
                            span_id=str(sp["spanId"]).lower(),
                            parent_span_id=str(sp["parentSpanId"]).lower()
                            if sp.get("parentSpanId")
                            else None,
                            project=proj,
                            name=str(sp.get("name") or "span")[:256],
                            kind=_KINDS.get(_enum(sp.get("kind"), _KIND_NAMES), "internal"),
                            start_time=int(sp["startTimeUnixNano"]) / 1e9,
                            end_time=int(sp.get("endTimeUnixNano") or sp["startTimeUnixNano"]) / 1e9,
                            status_code=_STATUS.get(_enum(status.get("code"), _STATUS_NAMES), "unset"),
                            status_message=str(status.get("message") or ""),
                            attributes=attrs,
                            events=[
                                SpanEvent(
                                    name=str(e.get("name") or "event")[:256],
                                    time=int(e.get("timeUnixNano") or 0) / 1e9,
                                    attributes=_json_attrs(e.get("attributes")),
                                )
                                for e in sp.get("events") or []
                            ],
                        )
                    )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise InvalidInput(f"invalid OTLP JSON span: {e}", details={"field": "resourceSpans"}) from None
    return out


# -- protobuf ---------------------------------------------------------------------------------------
def _pb_value(v: Any) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_pb_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return _pb_attrs(v.kvlist_value.values)
    if which == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, which)


def _pb_attrs(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in items:
        v = kv.value
        which = v.WhichOneof("value")
        if which in _SCALARS:  # most attributes: skip the general path (decoding is the hot path of ingest)
            value = getattr(v, which)
            if which == "string_value" and len(value) > MAX_ATTRIBUTE_CHARS:
                value = attribute_value(value)
            out[kv.key] = value
            continue
        value = attribute_value(_pb_value(v))
        if value is not None:
            out[kv.key] = value
    return out


def spans_from_protobuf(body: bytes, *, project: str) -> list[SpanRecord]:
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    req = ExportTraceServiceRequest()
    try:
        req.ParseFromString(body)
    except DecodeError as e:
        raise InvalidInput(f"invalid OTLP protobuf: {e}", details={"field": "body"}) from None
    out: list[SpanRecord] = []
    try:
        for rs in req.resource_spans:
            resource = _pb_attrs(rs.resource.attributes)
            proj = str(resource.get(PROJECT_ATTRIBUTE) or project)
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    out.append(
                        SpanRecord(
                            trace_id=sp.trace_id.hex(),
                            span_id=sp.span_id.hex(),
                            parent_span_id=sp.parent_span_id.hex() or None,
                            project=proj,
                            name=(sp.name or "span")[:256],
                            kind=_KINDS.get(sp.kind, "internal"),
                            start_time=sp.start_time_unix_nano / 1e9,
                            end_time=(sp.end_time_unix_nano or sp.start_time_unix_nano) / 1e9,
                            status_code=_STATUS.get(sp.status.code, "unset"),
                            status_message=sp.status.message,
                            attributes={**resource, **_pb_attrs(sp.attributes)},
                            events=[
                                SpanEvent(
                                    name=(e.name or "event")[:256],
                                    time=e.time_unix_nano / 1e9,
                                    attributes=_pb_attrs(e.attributes),
                                )
                                for e in sp.events
                            ],
                        )
                    )
    except ValueError as e:  # pydantic: ids of the wrong length, names too long
        raise InvalidInput(f"invalid OTLP span: {e}", details={"field": "resource_spans"}) from None
    return out


def protobuf_response() -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    data: bytes = ExportTraceServiceResponse().SerializeToString()
    return data
