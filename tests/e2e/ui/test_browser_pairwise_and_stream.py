"""In headless Chromium: a pairwise choice in the annotation queue becomes a preference row, and the
playground streams its answer into the page before the run is saved."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.e2e.ui.conftest import Live, sign_in
from tests.integration.ui.seed import PROJECT, record_pair

from llmloop.client import LocalClient
from llmloop.server.ui.pairwise import pair_order
from llmloop.services.serve import feedback
from llmloop.services.serve.feedback_export import export_feedback

QUESTION = "A beach in May?"
SERVED, SHADOW = "Try Faro", "Try Crete, warm in May"


def _pair_up(live: Live) -> str:
    """A fresh pairwise trace, newer than every other, so it is first in the queue."""
    return record_pair(live.ctx, QUESTION, SERVED, SHADOW, at=time.time() + 3600)


def test_a_pairwise_choice_by_keyboard_is_exported_as_a_preference_pair(
    browser: Any, live: Live, tmp_path: Path
) -> None:
    trace_id = _pair_up(live)
    page = sign_in(browser, live, "max")
    page.goto(f"/annotate?project={PROJECT}")
    assert page.locator(".review").get_attribute("data-trace") == trace_id
    shown = [page.inner_text("#answer-left"), page.inner_text("#answer-right")]
    order = pair_order(trace_id, "max")
    assert shown == [SERVED if side == "served" else SHADOW for side in order]
    page.reload()
    assert [page.inner_text("#answer-left"), page.inner_text("#answer-right")] == shown, "stable on reload"
    live.shot(page, "annotate-pairwise")
    page.keyboard.press("1" if order[0] == "shadow" else "2")  # choose the shadow answer by key
    page.wait_for_selector("#saved")
    stored = feedback.list_feedback(live.ctx, trace_id=trace_id)
    assert [(f.label, f.preferred, f.created_by) for f in stored] == [("pairwise:shadow", SHADOW, "max")]

    other = sign_in(browser, live, "ada")  # a second reviewer prefers the served answer
    other.goto(f"/annotate?project={PROJECT}&reviews=2")
    assert other.locator(".review").get_attribute("data-trace") == trace_id
    ada_order = pair_order(trace_id, "ada")
    other.click("#choose-left" if ada_order[0] == "served" else "#choose-right")
    other.wait_for_selector("#saved")
    assert "1 traces with several reviews" in other.inner_text(".progress")

    result = export_feedback(live.ctx, kind="preference", out=tmp_path / "pref.jsonl", project=PROJECT)
    rows = [r for r in (tmp_path / "pref.jsonl").read_text().splitlines() if trace_id in r]
    assert result.rows >= 2 and len(rows) == 2
    pairs = sorted(
        (json.loads(r)["chosen"][0]["content"], json.loads(r)["rejected"][0]["content"]) for r in rows
    )
    assert pairs == sorted([(SHADOW, SERVED), (SERVED, SHADOW)])
    assert all(json.loads(r)["prompt"] == [{"role": "user", "content": QUESTION}] for r in rows)
    assert page.errors == [] and other.errors == []


def test_a_viewer_sees_the_pair_but_may_not_choose(browser: Any, live: Live) -> None:
    trace_id = _pair_up(live)
    page = sign_in(browser, live, "vic")
    page.goto(f"/annotate?project={PROJECT}")
    assert page.locator("#answer-left").count() == 1 and page.locator("#pair-form").count() == 0
    token = page.evaluate('JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]')
    refused = page.request.post(
        f"/annotate/{trace_id}?project={PROJECT}", form={"choice": "left"}, headers={"X-CSRF-Token": token}
    )
    assert refused.status == 403
    no_token = page.request.post(f"/annotate/{trace_id}?project={PROJECT}", form={"choice": "left"})
    assert no_token.status == 403
    assert feedback.list_feedback(live.ctx, trace_id=trace_id) == []


def test_the_playground_streams_the_answer_before_the_run_is_saved(browser: Any, live: Live) -> None:
    live.loop.models.good.faults.stream_stall_s = 0.4  # each streamed word waits: the page shows it grow
    try:
        page = sign_in(browser, live, "max")
        page.goto(f"/prompts/greet?project={PROJECT}")
        page.fill("input[name='var:who']", "Ana")
        page.select_option("select[name=model]", "m")
        runs_before = len(LocalClient(ctx=live.ctx).runs.list_runs(PROJECT).items)
        page.click("#run-prompt")
        page.wait_for_function(
            "() => { const s = document.getElementById('playground-stream');"
            " return s && s.textContent.length > 0 && s.textContent !== 'echo: hello Ana, welcome'; }"
        )
        assert page.locator("#playground-run").count() == 0, "part of the answer shows before the end"
        live.shot(page, "playground-streaming")
        page.wait_for_selector("#playground-run", timeout=20_000)
        assert page.inner_text("#playground-output pre.output") == "echo: hello Ana, welcome"
        assert len(LocalClient(ctx=live.ctx).runs.list_runs(PROJECT).items) == runs_before + 1
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        live.loop.models.good.faults.stream_stall_s = 0.0
