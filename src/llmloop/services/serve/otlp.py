"""OTLP/HTTP trace ingest: ``ExportTraceServiceRequest`` (protobuf or JSON) → ``SpanData`` rows.

Any app instrumented with OpenTelemetry (OpenLLMetry, OpenInference…) can point its OTLP
exporter at llmloop. Resource attributes are copied onto each span (so ``service.name`` is
searchable); the project is the resource attribute ``llmloop.project`` when present, else the
one the caller names. In OTLP/JSON ids are hex and 64-bit integers are strings; in protobuf
ids are bytes; both land as the same rows.

Spans are decoded straight to the rows the store writes, without a pydantic model per span
(that validation cost more than the store's own work); ``_row`` checks what the model did:
ids (32 / 16 hex digits, not all zero), names (cut at 256 characters), attribute sizes. Protobuf
ids are bytes, always hex once encoded, so its decoder checks only their lengths and all-zero ids
inline and leaves a bad one to ``_row``, which names the span and the field.
"""

from __future__ import annotations

import gzip
import re
import zlib
from typing import Any

from llmloop.errors import InvalidInput
from llmloop.services.observe.schemas import SpanData, SpanKind, StatusCode
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
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
_ZERO_TID, _ZERO_SID = bytes(16), bytes(8)


def _row(
    n: int,
    trace_id: str,
    span_id: str,
    parent: str,
    project: str,
    name: str,
    kind: int,
    start_ns: int,
    end_ns: int,
    status: int,
    message: str,
    attributes: dict[str, Any],
    events: list[dict[str, Any]],
) -> SpanData:
    """The ``n``-th span of an export as a row, or ``InvalidInput`` naming the span and the field."""
    if not _TRACE_ID.fullmatch(trace_id) or trace_id == _ZERO_TRACE:
        raise _bad(n, "trace_id", f"must be 32 hex digits, not all zero: {trace_id[:40]!r}")
    if not _SPAN_ID.fullmatch(span_id) or span_id == _ZERO_SPAN:
        raise _bad(n, "span_id", f"must be 16 hex digits, not all zero: {span_id[:40]!r}")
    if parent and not _SPAN_ID.fullmatch(parent):
        raise _bad(n, "parent_span_id", f"must be 16 hex digits or empty: {parent[:40]!r}")
    return SpanData(
        trace_id,
        span_id,
        parent or None,
        project,
        (name or "span")[:256],
        _KINDS.get(kind, "internal"),
        start_ns / 1e9,
        (end_ns or start_ns) / 1e9,
        _STATUS.get(status, "unset"),
        message[:MAX_ATTRIBUTE_CHARS],
        attributes,
        events,
    )


def _bad(n: int, field: str, why: str) -> InvalidInput:
    return InvalidInput(f"span {n} of the export: {field} {why}", details={"field": field, "span": n})


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


def spans_from_json(doc: Any, *, project: str) -> list[SpanData]:
    if not isinstance(doc, dict):
        raise InvalidInput("OTLP JSON body must be an object", details={"field": "body"})
    out: list[SpanData] = []
    try:
        for rs in doc.get("resourceSpans") or []:
            resource = _json_attrs((rs.get("resource") or {}).get("attributes"))
            proj = str(resource.get(PROJECT_ATTRIBUTE) or project)
            for ss in rs.get("scopeSpans") or []:
                for sp in ss.get("spans") or []:
                    status = sp.get("status") or {}
                    start = int(sp["startTimeUnixNano"])
                    events = [
                        {
                            "name": str(e.get("name") or "event")[:256],
                            "time": int(e.get("timeUnixNano") or 0) / 1e9,
                            "attributes": _json_attrs(e.get("attributes")),
                        }
                        for e in sp.get("events") or []
                    ]
                    out.append(
                        _row(
                            len(out),
                            str(sp["traceId"]).lower(),
                            str(sp["spanId"]).lower(),
                            str(sp.get("parentSpanId") or "").lower(),
                            proj,
                            str(sp.get("name") or ""),
                            _enum(sp.get("kind"), _KIND_NAMES),
                            start,
                            int(sp.get("endTimeUnixNano") or start),
                            _enum(status.get("code"), _STATUS_NAMES),
                            str(status.get("message") or ""),
                            {**resource, **_json_attrs(sp.get("attributes"))},
                            events,
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


def _pb_attrs(items: Any, out: dict[str, Any] | None = None) -> dict[str, Any]:
    """The attributes as a dict; into ``out`` when given (a copy of the resource's, which the span's
    own override in place: the keys and order ``{**resource, **span}`` gives, without building both)."""
    if out is None:
        out = {}
    for kv in items:
        v = kv.value
        which = v.WhichOneof("value")
        if which == "string_value":  # most attributes: the hot path of ingest
            value = v.string_value
            out[kv.key] = value if len(value) <= MAX_ATTRIBUTE_CHARS else attribute_value(value)
        elif which in _SCALARS:
            out[kv.key] = getattr(v, which)
        else:
            value = attribute_value(_pb_value(v))
            if value is not None:
                out[kv.key] = value
    return out


def spans_from_protobuf(body: bytes, *, project: str) -> list[SpanData]:
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    req = ExportTraceServiceRequest()
    try:
        req.ParseFromString(body)  # upb: strings that are not UTF-8 are refused here
    except DecodeError as e:
        raise InvalidInput(f"invalid OTLP protobuf: {e}", details={"field": "body"}) from None
    out: list[SpanData] = []
    new_row = tuple.__new__  # SpanData(...) without its Python-level __new__: this runs once per span
    for rs in req.resource_spans:
        resource = _pb_attrs(rs.resource.attributes)
        proj = str(resource.get(PROJECT_ATTRIBUTE) or project)
        for ss in rs.scope_spans:
            for sp in ss.spans:
                status = sp.status
                tid, sid, parent = sp.trace_id, sp.span_id, sp.parent_span_id
                attributes = (
                    _pb_attrs(sp.attributes, resource.copy()) if resource else _pb_attrs(sp.attributes)
                )
                events = (
                    [
                        {
                            "name": (e.name or "event")[:256],
                            "time": e.time_unix_nano / 1e9,
                            "attributes": _pb_attrs(e.attributes),
                        }
                        for e in sp.events
                    ]
                    if sp.events
                    else []
                )
                if (
                    len(tid) != 16
                    or len(sid) != 8
                    or len(parent) not in (0, 8)
                    or tid == _ZERO_TID
                    or sid == _ZERO_SID
                ):
                    # a bad id: _row names the span and the field (bytes are always hex once encoded,
                    # so only the lengths and the all-zero ids need checking on the fast path below)
                    out.append(_row(len(out), tid.hex(), sid.hex(), parent.hex(), proj, sp.name, sp.kind,
                                    sp.start_time_unix_nano, sp.end_time_unix_nano, status.code, status.message,
                                    attributes, events))  # fmt: skip
                    continue
                start = sp.start_time_unix_nano
                out.append(
                    new_row(
                        SpanData,
                        (
                            tid.hex(),
                            sid.hex(),
                            parent.hex() or None,
                            proj,
                            (sp.name or "span")[:256],
                            _KINDS.get(sp.kind, "internal"),
                            start / 1e9,
                            (sp.end_time_unix_nano or start) / 1e9,
                            _STATUS.get(status.code, "unset"),
                            status.message[:MAX_ATTRIBUTE_CHARS],
                            attributes,
                            events,
                        ),
                    )
                )
    return out


def protobuf_response() -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    data: bytes = ExportTraceServiceResponse().SerializeToString()
    return data
