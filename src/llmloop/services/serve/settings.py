"""Gateway settings, read from ``LLMLOOP_GATEWAY_*`` (kept apart from the core ``Settings``)."""

from __future__ import annotations

import functools

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLMLOOP_GATEWAY_", extra="ignore")

    prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description='USD per million tokens, input then output, by model: {"gpt-4o-mini": [0.15, 0.6]}.',
    )
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Larger request bodies answer 413.")
    max_in_flight: int = Field(256, ge=1, description="Requests served at once; more wait in the queue.")
    max_queue: int = Field(1024, ge=0, description="Requests waiting beyond max_in_flight; more answer 503.")
    key_requests_per_minute: int | None = Field(None, ge=1, description="Per API key; none = unlimited.")
    key_tokens_per_minute: int | None = Field(None, ge=1, description="Per API key; none = unlimited.")
    redis_url: str | None = Field(
        None, description="Share rate-limit counters between processes through Redis."
    )
    route_cache_s: float = Field(1.0, ge=0, description="How long a deployment lookup is reused.")
    metrics_public: bool = Field(
        False,
        description="Serve /metrics without credentials in authenticated mode (default: needs deployments:read).",
    )


@functools.lru_cache(maxsize=1)
def gateway_settings() -> GatewaySettings:
    return GatewaySettings()


def cost_usd(
    prices: dict[str, tuple[float, float]], models: tuple[str, ...], input_tokens: int, output_tokens: int
) -> float | None:
    """The price of a call from the first of ``models`` that has a price; None when none has."""
    for model in models:
        price = prices.get(model)
        if price is not None:
            return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000
    return None
