"""The client of the traces benchmark: an app instrumented with OpenTelemetry, exporting over OTLP/HTTP.

    python traces_otlp.py '{"endpoint": "http://127.0.0.1:PORT/v1/traces", "headers": {}, "traces": 1000,
                            "spans_per_trace": 5}'

The same script (and the same OpenTelemetry SDK and ``opentelemetry-exporter-otlp-proto-http``)
feeds every server in the benchmark, so only the receiving end differs. Each trace is an agent
step: a root span, a retrieval span, and LLM calls with GenAI attributes (model, tokens, a short
prompt and answer). With ``"mode": "bodies"`` the batches are encoded by the exporter's encoder
first and then POSTed as they are, which times the receiving server without the client's
protobuf encoding (pure Python, as slow as the server's whole ingest). Prints one JSON object: when the first export started (epoch seconds), when
the last one returned, how long the SDK took to create the spans, and how many exports failed.

    python traces_otlp.py sink PORT

serves a null OTLP endpoint on 127.0.0.1:PORT (``GET /health``, and ``POST /v1/traces`` read and
answered with an empty ``ExportTraceServiceResponse``, stored nowhere): the real exporter sending to it
measures the exporter's own ceiling, the most any server could give it on this machine.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

BATCH = 512  # BatchSpanProcessor's default max_export_batch_size


def main() -> None:
    cfg: dict[str, Any] = json.loads(sys.argv[1])
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    # first the app runs and its spans are finished (kept in memory), then they are exported the way
    # BatchSpanProcessor's worker does it: batches of 512, one after the other, by the real exporter.
    # The clock of the benchmark starts at the first export, so it times the path from the exporter
    # to the store, not the SDK creating spans (the same for every server).
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    llm_calls = cfg["spans_per_trace"] - 2
    t0 = time.perf_counter()
    for i in range(cfg["traces"]):
        with tracer.start_as_current_span("agent step", attributes={"user.id": f"user-{i % 50}"}):
            with tracer.start_as_current_span("retrieve", attributes={"retrieval.documents": 4}):
                pass
            for j in range(llm_calls):
                with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as sp:
                    sp.set_attributes(
                        {
                            "gen_ai.operation.name": "chat",
                            "gen_ai.system": "openai",
                            "gen_ai.request.model": "gpt-4o-mini",
                            "gen_ai.response.model": "gpt-4o-mini",
                            "gen_ai.usage.input_tokens": 120 + j,
                            "gen_ai.usage.output_tokens": 40 + j,
                            "gen_ai.prompt": f"question {i}.{j}: what is the capital of France?",
                            "gen_ai.completion": "Paris.",
                        }
                    )
    create_s = time.perf_counter() - t0
    spans = memory.get_finished_spans()
    batches = [spans[k : k + BATCH] for k in range(0, len(spans), BATCH)]
    failures = 0
    if cfg.get("mode") == "bodies":  # the exporter's own encoding done beforehand: times the server alone
        import httpx
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        bodies = [encode_spans(b).SerializePartialToString() for b in batches]
        headers = {"content-type": "application/x-protobuf", **(cfg.get("headers") or {})}
        with httpx.Client(timeout=600) as http:
            start = time.time()
            for body in bodies:
                failures += http.post(cfg["endpoint"], content=body, headers=headers).status_code != 200
            flushed = time.time()
    else:
        exporter = OTLPSpanExporter(endpoint=cfg["endpoint"], headers=cfg.get("headers") or {})
        start = time.time()
        for batch in batches:
            failures += exporter.export(batch) is not SpanExportResult.SUCCESS
        flushed = time.time()
        exporter.shutdown()
    print(json.dumps({"start": start, "flushed": flushed, "create_s": create_s, "failed_exports": failures}))


def sink(port: int) -> None:
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    answer = ExportTraceServiceResponse().SerializeToString()

    class Null(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the exporter's session expects

        def _reply(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._reply(b"")

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self._reply(answer)

        def log_message(self, *_: Any) -> None:
            pass

    HTTPServer(("127.0.0.1", port), Null).serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "sink":
        sink(int(sys.argv[2]))
    else:
        main()
