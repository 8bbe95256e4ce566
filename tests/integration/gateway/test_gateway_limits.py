"""Limits: 429 with Retry-After per deployment and per API key (requests and tokens), shared through
the real Redis between two gateways, and 503 from a full admission queue."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import httpx
import openai
import pytest
from tests.conftest import service_missing
from tests.integration.gateway.conftest import deploy

from llmloop.errors import Unavailable
from llmloop.services.serve.gateway import Gateway
from llmloop.services.serve.limits import Admission
from llmloop.services.serve.settings import GatewaySettings
from llmloop.services.serve.targets import close_sessions


def _ask(gw: Any, model: str, key: str = "k1") -> httpx.Response:
    r: httpx.Response = gw.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "one two three four"}]},
        headers={"authorization": f"Bearer {key}"},
    )
    return r


def test_deployment_requests_per_minute_answers_429_with_retry_after(gw: Any, echo: tuple[str, Any]) -> None:
    spec = {"targets": [{"model": "m", "upstream": echo[0]}], "limits": {"requests_per_minute": 2}}
    deploy(gw, "limited", spec)
    assert [_ask(gw, "limited").status_code for _ in range(2)] == [200, 200]
    r = _ask(gw, "limited")
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60
    assert r.json()["error"]["type"] == "rate_limit_error" and r.headers["x-llmloop-trace-id"]
    client = openai.OpenAI(base_url="http://testserver/v1", api_key="x", http_client=gw, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="limited", messages=[{"role": "user", "content": "x"}])


def test_tokens_per_minute_refuses_after_the_budget_is_spent(gw: Any, echo: tuple[str, Any]) -> None:
    deploy(gw, "tok", {"targets": [{"model": "m", "upstream": echo[0]}], "limits": {"tokens_per_minute": 5}})
    assert _ask(gw, "tok").status_code == 200  # this call spends more than 5 tokens
    statuses = []
    for _ in range(20):  # tokens are charged off the response path; give the charge a moment
        statuses.append(_ask(gw, "tok").status_code)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429


def test_api_key_limit_is_per_key(gw: Any, echo: tuple[str, Any]) -> None:
    ctx = gw.app.state.ctx
    gw.app.state.gateway = Gateway(ctx, settings=GatewaySettings(key_requests_per_minute=1))
    deploy(gw, "open", {"targets": [{"model": "m", "upstream": echo[0]}]})
    assert _ask(gw, "open", key="alice").status_code == 200
    assert _ask(gw, "open", key="alice").status_code == 429
    assert _ask(gw, "open", key="bob").status_code == 200


@pytest.mark.redis
def test_redis_counters_are_shared_between_gateways(gw: Any, echo: tuple[str, Any]) -> None:
    url = os.environ.get("LLMLOOP_TEST_REDIS_URL")
    if not url:
        service_missing("Redis (LLMLOOP_TEST_REDIS_URL)")
    from fastapi.testclient import TestClient

    from llmloop.server.app import create_app

    ctx = gw.app.state.ctx
    name = f"shared-{uuid.uuid4().hex[:8]}"
    deploy(gw, name, {"targets": [{"model": "m", "upstream": echo[0]}], "limits": {"requests_per_minute": 3}})
    settings = GatewaySettings(redis_url=url)
    other = create_app(ctx)
    gw.app.state.gateway = Gateway(ctx, settings=settings)
    other.state.gateway = Gateway(ctx, settings=settings)
    with TestClient(other) as second:
        assert [_ask(gw, name).status_code, _ask(second, name).status_code, _ask(gw, name).status_code] == [
            200
        ] * 3
        assert _ask(second, name).status_code == 429
        assert _ask(gw, name).status_code == 429


def test_admission_refuses_beyond_the_queue() -> None:
    async def scenario() -> None:
        adm = Admission(max_in_flight=1, max_queue=1)
        await adm.enter()
        waiter = asyncio.create_task(adm.enter())
        await asyncio.sleep(0)
        assert adm.waiting == 1
        with pytest.raises(Unavailable, match="gateway busy"):
            await adm.enter()
        adm.leave()
        await waiter
        assert (adm.running, adm.waiting) == (1, 0)
        adm.leave()

    asyncio.run(scenario())


def test_full_queue_answers_503_and_the_server_keeps_serving(gw: Any, echo: tuple[str, Any]) -> None:
    from llmloop.server.app import create_app

    ctx = gw.app.state.ctx
    deploy(gw, "slowpoke", {"targets": [{"model": "slow", "upstream": echo[0]}]})
    app = create_app(ctx)
    app.state.gateway = Gateway(ctx, settings=GatewaySettings(max_in_flight=1, max_queue=0))

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            body = {"model": "slowpoke", "messages": [{"role": "user", "content": "x"}]}
            rs = await asyncio.gather(*(http.post("/v1/chat/completions", json=body) for _ in range(3)))
            after = await http.post("/v1/chat/completions", json=body)
        await close_sessions()  # no lifespan runs under ASGITransport
        return [r.status_code for r in rs] + [after.status_code]

    codes = asyncio.run(burst())
    assert sorted(codes[:3]) == [200, 503, 503] and codes[3] == 200


def test_an_expired_route_is_looked_up_once_under_load(gw: Any, echo: tuple[str, Any]) -> None:
    deploy(gw, "busy", {"targets": [{"model": "m", "upstream": echo[0]}]})
    gateway = Gateway(gw.app.state.ctx, settings=GatewaySettings(route_cache_s=0.2))
    lookups = []
    real = gateway._lookup

    def counted(project: str, model: str) -> Any:
        lookups.append(model)
        return real(project, model)

    gateway._lookup = counted  # type: ignore[method-assign]

    async def scenario() -> set[str | None]:
        await gateway.route("busy")
        await asyncio.sleep(0.25)  # expired: the next burst refreshes it once
        routes = await asyncio.gather(*(gateway.route("busy") for _ in range(20)))
        return {r.deployment for r in routes}

    assert asyncio.run(scenario()) == {"busy"}
    assert lookups == ["busy", "busy"]
