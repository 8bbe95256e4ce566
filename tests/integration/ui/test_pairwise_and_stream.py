"""Over HTTP in local mode: the pairwise choice stored as preference feedback and exported as a pair,
and the playground's NDJSON stream (deltas, then the saved run). The browser runs these in
``tests/e2e/ui/test_browser_pairwise_and_stream.py``; here the server's side is checked without one."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from tests.integration.ui.seed import PROJECT, Loop, record_pair

from llmloop.server.ui.pairwise import pair_order
from llmloop.services.serve import feedback
from llmloop.services.serve.feedback_export import export_rows

Q = {"project": PROJECT}


def _token(ui: TestClient, path: str) -> str:
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', ui.get(path, params=Q).text)
    assert found is not None
    return found[1]


def test_a_pairwise_choice_is_a_preference_pair_in_the_export(
    ui: TestClient, seeded: tuple[Any, Loop]
) -> None:
    ctx = seeded[0]
    trace_id = record_pair(ctx, "A beach in May?", "Try Faro", "Try Crete", at=time.time() + 7200)
    page = ui.get("/annotate.json", params=Q).json()
    assert page["item"]["trace_id"] == trace_id
    token = _token(ui, "/annotate")
    headers = {"hx-request": "true", "x-csrf-token": token}
    bad = ui.post(f"/annotate/{trace_id}", params=Q, data={"choice": "both"}, headers=headers)
    assert bad.status_code == 400 and "choice must be one of left, right, tie" in bad.text
    assert feedback.list_feedback(ctx, trace_id=trace_id) == [], "a bad choice stores nothing"
    left = page["pair"][0]
    ok = ui.post(f"/annotate/{trace_id}", params=Q, data={"choice": "left"}, headers=headers)
    assert ok.status_code == 200 and 'id="saved"' in ok.text
    [stored] = feedback.list_feedback(ctx, trace_id=trace_id)
    side = "served" if left == "Try Faro" else "shadow"
    assert (stored.label, stored.preferred) == (f"pairwise:{side}", left)
    assert pair_order(trace_id, stored.created_by or "")[0] == side, "the server's order is the page's"
    rows, _ = export_rows(ctx, kind="preference", project=PROJECT)
    [row] = [r for r in rows if r["trace_id"] == trace_id]
    other = "Try Crete" if left == "Try Faro" else "Try Faro"
    assert (row["chosen"][0]["content"], row["rejected"][0]["content"]) == (left, other)
    assert row["prompt"] == [{"role": "user", "content": "A beach in May?"}]


def test_a_one_answer_trace_refuses_a_pairwise_choice(ui: TestClient, seeded: tuple[Any, Loop]) -> None:
    trace_id = seeded[1].traces[0]
    headers = {"hx-request": "true", "x-csrf-token": _token(ui, "/annotate")}
    refused = ui.post(f"/annotate/{trace_id}", params=Q, data={"choice": "left"}, headers=headers)
    assert refused.status_code == 400 and "one answer, not two" in refused.text
    assert feedback.list_feedback(seeded[0], trace_id=trace_id) == []


def test_the_playground_streams_deltas_then_the_saved_run(ui: TestClient) -> None:
    form = {"var:who": "Ana", "model": "m"}
    refused = ui.post("/prompts/greet/stream", params=Q, data=form)
    assert refused.status_code == 403, "the page's CSRF token is needed"
    headers = {"x-csrf-token": _token(ui, "/prompts/greet")}
    with ui.stream("POST", "/prompts/greet/stream", params=Q, data=form, headers=headers) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/x-ndjson")
        events = [json.loads(line) for line in answer.iter_lines() if line]
    deltas = [e["delta"] for e in events if "delta" in e]
    assert len(deltas) > 1 and "".join(deltas) == "echo: hello Ana, welcome", "streamed in pieces"
    assert "html" in events[-1] and 'id="playground-run"' in events[-1]["html"]
    run_id = re.search(r"/runs/([0-9a-f]+)", events[-1]["html"])
    assert run_id is not None
    assert ui.get(f"/runs/{run_id[1]}.json", params=Q).status_code == 200


def test_a_stream_that_cannot_start_is_an_error_fragment(ui: TestClient, tmp_path: Path) -> None:
    headers = {"x-csrf-token": _token(ui, "/prompts/greet")}
    answer = ui.post(
        "/prompts/greet/stream", params=Q, data={"var:who": "Ana", "model": "nope"}, headers=headers
    )
    assert answer.status_code == 404 and "nope" in answer.text


def test_a_real_shadow_deployment_makes_a_pairwise_item_that_exports_as_a_pair(
    ui: TestClient, seeded: tuple[Any, Loop]
) -> None:
    """No trace written by hand: the openai client asks a deployment whose shadow (the fake's ``shout``
    model) answers differently; the queue offers both answers and the choice exports as a pair."""
    import openai
    from tests.fakes.openai_server import serving

    from llmloop.services.observe.tracer import writer_for

    ctx = seeded[0]
    with serving() as upstream:
        spec = {
            "targets": [{"model": "calm", "upstream": upstream.url}],
            "shadow": [{"model": "shout", "upstream": upstream.url}],
        }
        made = ui.post(
            "/api/v1/deployments", json={"name": "second-opinion", "project": PROJECT, "spec": spec}
        )
        assert made.status_code == 201, made.text
        client = openai.OpenAI(
            base_url="http://testserver/v1", api_key="unused", http_client=ui, max_retries=0
        )
        raw = client.chat.completions.with_raw_response.create(
            model=f"{PROJECT}/second-opinion", messages=[{"role": "user", "content": "a quiet beach?"}]
        )
        assert raw.parse().choices[0].message.content == "echo: a quiet beach?"
        trace_id = raw.headers["x-llmloop-trace-id"]
        deadline, skip = time.time() + 10, []
        while True:  # the shadow answers after the served one: wait for its span
            writer_for(ctx).flush()
            page = ui.get("/annotate.json", params={**Q, "reviews": 1, "skip": skip}).json()
            if page["item"] and page["item"]["trace_id"] == trace_id and page["pair"]:
                break
            if page["item"] and page["item"]["trace_id"] != trace_id:
                skip.append(page["item"]["trace_id"])  # a seeded trace stamped later than ours comes first
            assert time.time() < deadline, page
            time.sleep(0.05)
    assert sorted(page["pair"]) == ["ECHO: A QUIET BEACH?", "echo: a quiet beach?"]
    headers = {"hx-request": "true", "x-csrf-token": _token(ui, "/annotate")}
    right = page["pair"][1]
    ok = ui.post(f"/annotate/{trace_id}", params=Q, data={"choice": "right"}, headers=headers)
    assert ok.status_code == 200 and 'id="saved"' in ok.text
    rows, _ = export_rows(ctx, kind="preference", project=PROJECT)
    [row] = [r for r in rows if r["trace_id"] == trace_id]
    assert row["chosen"][0]["content"] == right
    assert row["rejected"][0]["content"] == page["pair"][0]
    assert row["prompt"] == [{"role": "user", "content": "a quiet beach?"}]
