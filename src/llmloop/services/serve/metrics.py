"""Prometheus metrics of the gateway: requests, errors, latency and time to first token, tokens, queue.

One registry per ``Gateway`` (not the process-global one) so several apps in a process, as in
tests, never collide. Labels are bounded: a request that matched no deployment or registered
model is counted under ``deployment="_unrouted"`` rather than under whatever name it sent.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "llmloop_gateway_requests", "Requests served.", ["deployment", "endpoint", "status"], registry=r
        )
        self.errors = Counter(
            "llmloop_gateway_errors", "Requests that failed.", ["deployment", "code"], registry=r
        )
        self.latency = Histogram(
            "llmloop_gateway_request_seconds",
            "Request latency.",
            ["deployment"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "llmloop_gateway_time_to_first_token_seconds",
            "Time to the first streamed chunk.",
            ["deployment"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter("llmloop_gateway_tokens", "Tokens served.", ["deployment", "kind"], registry=r)
        self.in_flight = Gauge("llmloop_gateway_in_flight", "Requests running.", ["deployment"], registry=r)
        self.queue_depth = Gauge("llmloop_gateway_queue_depth", "Requests waiting for a slot.", registry=r)

    def render(self) -> bytes:
        data: bytes = generate_latest(self.registry)
        return data
