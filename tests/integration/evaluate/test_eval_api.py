"""/api/v1/evaluations: list, get, paginated examples, compare and gate checks, error envelopes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval_fixtures import answering

from llmloop.services.evaluate import service
from llmloop.services.evaluate.suite import load_suite


def test_evaluations_over_http(ctx: Any, api: Any, qa_suite: Path) -> None:
    suite = load_suite(qa_suite)
    weak = service.run_suite(ctx, suite=suite, model=answering(set(range(0, 40, 2))), project="travel")
    strong = service.run_suite(ctx, suite=suite, model=answering(set(range(36))), project="travel")

    listed = api.get("/api/v1/evaluations", params={"project": "travel", "limit": 1})
    assert listed.status_code == 200
    body = listed.json()
    assert len(body["items"]) == 1 and body["next_page_token"]

    got = api.get(f"/api/v1/evaluations/{weak.id}")
    assert got.status_code == 200 and json.loads(weak.model_dump_json()) == got.json()

    page = api.get(f"/api/v1/evaluations/{weak.id[:8]}/examples", params={"limit": 10})
    assert page.status_code == 200
    assert page.json()["total"] == 40 and len(page.json()["items"]) == 10
    nxt = api.get(
        f"/api/v1/evaluations/{weak.id}/examples",
        params={"limit": 10, "page_token": page.json()["next_page_token"]},
    )
    assert nxt.json()["items"][0]["example_id"] == "q10"

    cmp = api.post("/api/v1/evaluations/compare", json={"ids": [weak.id, strong.id], "n_resamples": 200})
    assert cmp.status_code == 200
    em = next(m for m in cmp.json()["pairs"][0]["metrics"] if m["key"] == "exact_match")
    assert em["verdict"] == "better" and em["delta"] == 0.4

    losses = api.get(
        f"/api/v1/evaluations/{weak.id}/diff/{strong.id[:10]}", params={"outcome": "losses", "limit": 1}
    )
    assert losses.status_code == 200
    body = losses.json()
    assert body["total"] == 2 and [x["example_id"] for x in body["items"]] == ["q36"]
    last = api.get(
        f"/api/v1/evaluations/{weak.id}/diff/{strong.id}",
        params={"outcome": "losses", "limit": 1, "page_token": body["next_page_token"]},
    )
    assert [x["example_id"] for x in last.json()["items"]] == ["q38"] and last.json()[
        "next_page_token"
    ] is None
    bad = api.get(f"/api/v1/evaluations/{weak.id}/diff/{strong.id}", params={"outcome": "best"})
    assert bad.status_code == 400 and "outcome" in bad.json()["error"]["details"]["field"], bad.text

    verdict = api.post(
        "/api/v1/evaluations/gate", json={"rules": ["exact_match >= 0.8"], "candidate": weak.id}
    )
    assert verdict.status_code == 200 and verdict.json()["passed"] is False  # a failed gate is a result

    missing = api.get("/api/v1/evaluations/" + "0" * 32)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad_rule = api.post(
        "/api/v1/evaluations/gate", json={"rules": ["exact_match => 1"], "candidate": weak.id}
    )
    assert bad_rule.status_code == 400 and "cannot read gate rule" in bad_rule.json()["error"]["message"]
    too_few = api.post("/api/v1/evaluations/compare", json={"ids": [weak.id]})
    assert too_few.status_code == 400


def test_cli_show_json_equals_the_api_body(
    ctx: Any, api: Any, cli: Any, qa_suite: Path, monkeypatch: Any
) -> None:
    ev = service.run_suite(ctx, suite=load_suite(qa_suite), model=answering(set(range(5))))
    res = cli("eval", "show", ev.id, "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout) == api.get(f"/api/v1/evaluations/{ev.id}").json()
