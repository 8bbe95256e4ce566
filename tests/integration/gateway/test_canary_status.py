"""A canary's live figures: a weighted two-target split on the fake upstream (a real socket), real
traffic through the gateway with the official openai client, feedback on the traces, then
``deploy status`` per target from the traces and feedback tables, on SQLite and PostgreSQL.

Users are sticky to one arm, so the test picks users for each arm with the router itself and
knows which requests each target got; the canary's model is the fake's ``slow`` (0.3 s), so
its latency percentiles must sit above the stable arm's.
"""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest
from tests.integration.gateway.conftest import deploy, flush_for

from llmloop.services.serve.routing import choose_target
from llmloop.services.serve.schemas import DeploymentSpec


def _users_for(spec: dict[str, Any], label: str, n: int) -> list[str]:
    parsed = DeploymentSpec.model_validate(spec)
    users = (f"user-{i}" for i in range(10_000))
    picked = [u for u in users if choose_target(parsed, deployment="bot", user=u).label == label]
    return picked[:n]


def test_status_shows_requests_errors_latency_and_feedback_per_target(
    api: Any, echo: tuple[str, Any], cli: Any
) -> None:
    url, fake = echo
    spec = {
        "policy": "weighted",
        "targets": [
            {"model": "echo-1", "upstream": url, "weight": 3},
            {"model": "slow", "upstream": url, "weight": 1},
        ],
    }
    deploy(api, "bot", spec)
    stable, canary = f"echo-1@{url}", f"slow@{url}"
    client = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=api, max_retries=0)

    def ask(user: str) -> str | None:
        """The trace id of one chat as ``user``; None when the gateway answered an error."""
        try:
            raw = client.chat.completions.with_raw_response.create(
                model="bot", messages=[{"role": "user", "content": "A quiet beach?"}], user=user
            )
        except openai.APIStatusError as e:
            assert e.status_code == 503
            return None
        return str(raw.headers["x-llmloop-trace-id"])

    try:
        fake.faults.fail_times = 2  # the stable arm's first two requests fail upstream
        stable_users, canary_users = _users_for(spec, stable, 6), _users_for(spec, canary, 4)
        stable_traces = [ask(u) for u in stable_users]
        canary_traces = [ask(u) for u in canary_users]
    finally:
        fake.reset()
    assert stable_traces[:2] == [None, None] and all(stable_traces[2:]) and all(canary_traces)
    for trace_id, score in [
        *zip(stable_traces[2:5], (1.0, 1.0, 0.0), strict=True),
        *zip(canary_traces[:2], (0.5, 0.5), strict=True),
    ]:
        r = api.post("/api/v1/feedback", json={"trace_id": trace_id, "score": score})
        assert r.status_code == 201, r.text
    api.post("/api/v1/feedback", json={"trace_id": canary_traces[2], "comment": "no score: not counted"})
    flush_for(api.app.state.ctx)

    r = api.get("/api/v1/deployments/bot/status")
    assert r.status_code == 200, r.text
    status = r.json()
    assert (status["name"], status["revision"], status["policy"]) == ("bot", 1, "weighted")
    by_target = {t["target"]: t for t in status["targets"]}
    assert list(by_target) == [stable, canary]  # the spec's order
    s, c = by_target[stable], by_target[canary]
    assert (s["weight"], s["share"], c["share"]) == (3.0, 0.75, 0.25)
    assert (s["requests"], s["errors"], s["error_rate"]) == (6, 2, pytest.approx(1 / 3))
    assert (c["requests"], c["errors"], c["error_rate"]) == (4, 0, 0.0)
    assert (s["scored"], s["mean_score"]) == (3, pytest.approx(2 / 3))
    assert (c["scored"], c["mean_score"]) == (2, pytest.approx(0.5))
    traced = [api.get(f"/api/v1/traces/{t}").json() for t in canary_traces]
    assert c["output_tokens"] == sum(t["output_tokens"] for t in traced) > 0  # what its traces counted
    assert c["input_tokens"] == sum(t["input_tokens"] for t in traced) > 0
    assert 300.0 <= c["p50_ms"] <= c["p95_ms"]  # the fake's slow model waits 0.3 s
    assert s["p50_ms"] <= s["p95_ms"] and s["p50_ms"] < c["p50_ms"]

    shown = cli("deploy", "status", "bot", "--json")
    assert shown.exit_code == 0, shown.stderr
    from_cli = json.loads(shown.stdout)
    assert from_cli == status
    table = cli("deploy", "status", "bot")
    assert table.exit_code == 0 and "33.3%" in table.stdout and "75%" in table.stdout
    later = api.get("/api/v1/deployments/bot/status", params={"since": time.time() + 60})
    assert [t["requests"] for t in later.json()["targets"]] == [0, 0]
    assert api.get("/api/v1/deployments/nope/status").status_code == 404


def test_status_gives_the_time_to_first_token_of_streamed_requests_only(
    api: Any, echo: tuple[str, Any]
) -> None:
    url, _ = echo
    deploy(api, "streamer", {"targets": [{"model": "slow", "upstream": url}]})
    client = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=api, max_retries=0)
    messages = [{"role": "user", "content": "A quiet beach?"}]
    client.chat.completions.create(model="streamer", messages=messages)  # type: ignore[arg-type]
    flush_for(api.app.state.ctx)
    [plain] = api.get("/api/v1/deployments/streamer/status").json()["targets"]
    assert plain["requests"] == 1 and plain["p95_ttft_ms"] is None  # no stream, no first token to time
    for piece in client.chat.completions.create(model="streamer", messages=messages, stream=True):  # type: ignore[arg-type]
        del piece
    flush_for(api.app.state.ctx)
    [streamed] = api.get("/api/v1/deployments/streamer/status").json()["targets"]
    assert streamed["requests"] == 2 and streamed["p95_ttft_ms"] >= 300.0  # the fake's slow model waits 0.3 s
