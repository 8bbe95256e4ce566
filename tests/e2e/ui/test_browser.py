"""The UI in headless Chromium: sign in, every page, the playground, the annotation queue, promotion
through a passing and a failing gate, and a viewer denied. Screenshots of every page are saved."""

from __future__ import annotations

from typing import Any

from tests.e2e.ui.conftest import Live, sign_in
from tests.integration.registry.protected import SUITE, champion
from tests.integration.ui.seed import PROJECT

from llmloop.services.registry import service as registry
from llmloop.services.registry.schemas import AliasProtectionCreate
from llmloop.services.serve import feedback

PAGES = [
    ("home", "/", "Project shop"),
    ("datasets", "/datasets", "Datasets"),
    ("prompts", "/prompts", "Prompts"),
    ("runs", "/runs", "Runs"),
    ("models", "/models", "Models"),
    ("evaluations", "/evaluations", "Evaluations"),
    ("deployments", "/deployments", "Deployments"),
    ("traces", "/traces", "Traces"),
    ("annotate", "/annotate", "Annotation queue"),
    ("monitors", "/monitors", "Monitors and alerts"),
    ("pipelines", "/pipelines", "Pipelines"),
    ("admin", "/admin", "Admin"),
]


def test_an_admin_signs_in_and_sees_every_page_without_a_script_error(browser: Any, live: Live) -> None:
    page = sign_in(browser, live, "ada")
    loop = live.loop
    details = [
        ("dataset", "/datasets/qa", "Dataset qa"),
        ("prompt", "/prompts/greet", "Prompt greet"),
        ("run", f"/runs/{loop.runs[0]}", "Run sft-0"),
        ("runs-compare", f"/runs/compare?ids={loop.runs[0]}&ids={loop.runs[1]}", "Compare runs"),
        ("model", "/models/m", "Model m"),
        ("evaluation", f"/evaluations/{loop.evaluations[0]}", "Evaluation qa"),
        (
            "evaluations-compare",
            f"/evaluations/compare?ids={loop.evaluations[0]}&ids={loop.evaluations[1]}",
            "Compare",
        ),
        (
            "evaluations-diff",
            f"/evaluations/compare?ids={loop.evaluations[0]}&ids={loop.evaluations[1]}&show=losses&key=helpful",
            "Compare",
        ),
        ("deployment", "/deployments/chat", "Deployment chat"),
        ("trace", f"/traces/{loop.traces[0]}", "Trace chat"),
    ]
    for name, path, heading in [*PAGES, *details]:
        sep = "&" if "?" in path else "?"
        response = page.goto(f"{path}{sep}project={PROJECT}")
        assert response is not None and response.status == 200, path
        assert heading in page.locator("h1").inner_text(), path
        if name == "trace":
            page.wait_for_selector("#span-tree")  # the span tree loads after the page
        if name in ("run", "runs-compare"):
            page.wait_for_selector(".curve canvas")  # uPlot drew the loss curve
        if name == "evaluations-diff":  # the filter form is set to what the page lists
            assert page.locator("select[name=show]").input_value() == "losses"
            assert "losses on helpful" in page.locator("#diff-0").inner_text()
            page.locator("table.pairs details.rationale").last.locator("summary").click()  # the judge's why
            assert "helps with nothing" in page.locator("table.pairs details.rationale").last.inner_text()
        if name == "evaluation":
            assert "what was asked" in (page.locator("details.rationale").first.text_content() or "")
        live.shot(page, name)
    assert page.errors == []  # type: ignore[attr-defined]  (a CSP violation is a console error)


def _playground(browser: Any, live: Live, field: str, value: str) -> Any:
    """The greet prompt run for Ana on the ``field`` (model or deployment) named ``value``."""
    page = sign_in(browser, live, "max")
    page.goto(f"/prompts/greet?project={PROJECT}")
    page.fill("input[name='var:who']", "Ana")
    page.select_option(f"select[name={field}]", value)
    page.click("#run-prompt")
    page.wait_for_selector("#playground-run")  # the saved run's link comes once the stream ends
    assert page.inner_text("#playground-output pre.output") == "echo: hello Ana, welcome"
    return page


def test_the_playground_runs_a_prompt_on_a_registered_model_and_saves_a_run(browser: Any, live: Live) -> None:
    page = _playground(browser, live, "model", "m")
    live.shot(page, "playground")
    page.click("#playground-run")
    page.wait_for_selector("h1")
    assert "Run" in page.locator("h1").inner_text()


def test_the_playground_runs_a_prompt_on_a_deployment_through_its_split(browser: Any, live: Live) -> None:
    """The deployment, not a model: the gateway's split picks the arm, and the saved run names both."""
    page = _playground(browser, live, "deployment", "chat")
    assert page.inner_text("#playground-deployment") == "chat"
    assert page.inner_text("#playground-model") in ("m@1", "m@3")  # champion (m@1) or the 10% arm
    live.shot(page, "playground-deployment")
    page.click("#playground-run")
    page.wait_for_selector("h1")
    assert "chat" in page.content()  # the run records the deployment it went through
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_review_in_the_annotation_queue_is_stored_as_feedback(browser: Any, live: Live) -> None:
    page = sign_in(browser, live, "max")
    page.goto(f"/annotate?project={PROJECT}")
    trace_id = page.locator(".review").get_attribute("data-trace")
    page.keyboard.press("j")  # thumbs up, by keyboard
    page.wait_for_selector("#saved")
    live.shot(page, "annotate-saved")
    stored = feedback.list_feedback(live.ctx, trace_id=trace_id)
    assert [(f.score, f.label, f.created_by) for f in stored] == [(1.0, "thumbs_up", "max")]
    assert page.locator(".review").get_attribute("data-trace") != trace_id, "the next trace is up"


def test_promotion_shows_the_gate_verdict_first_and_moves_only_through_a_passing_gate(
    browser: Any, live: Live
) -> None:
    registry.protect_alias(
        live.ctx, name="m", alias="champion", spec=AliasProtectionCreate(suite=SUITE), project=PROJECT
    )
    page = sign_in(browser, live, "max")
    page.goto(f"/models/m?project={PROJECT}")
    live.loop.models.arm()  # m@2's server fails the next two requests: its error_rate gate fails
    page.select_option("#promote-form select[name=version]", "2")
    page.click("#check-gates")
    page.wait_for_selector("#verdict-line")
    assert "failed" in page.locator("#verdict-line").inner_text()
    assert page.locator("#confirm-promote").count() == 0
    live.shot(page, "promote-failed")
    assert champion(live.ctx) == 1

    page.select_option("#promote-form select[name=version]", "3")
    page.click("#check-gates")
    page.wait_for_selector("#verdict-line >> text=passed")
    page.click("#confirm-promote")
    page.wait_for_selector("#promoted")
    live.shot(page, "promote-passed")
    assert champion(live.ctx) == 3


def test_a_viewer_is_denied_admin_and_sees_no_promote_button(browser: Any, live: Live) -> None:
    page = sign_in(browser, live, "vic")
    response = page.goto(f"/admin?project={PROJECT}")
    assert response is not None and response.status == 403
    assert "permission_denied" in page.locator("h1").inner_text()
    live.shot(page, "viewer-admin-denied")
    page.goto(f"/models/m?project={PROJECT}")
    assert page.locator("#promote-form").count() == 0
    page.goto(f"/annotate?project={PROJECT}")
    assert page.locator("#review-form").count() == 0, "a viewer may read feedback, not give it"


def test_a_span_tree_loads_the_parts_a_page_did_not_reach_in_their_place(
    browser: Any, live: Live, monkeypatch: Any
) -> None:
    from llmloop.server.ui.pages import traces as trace_pages
    from llmloop.services.observe import service as observe
    from llmloop.services.observe.schemas import SpanData
    from llmloop.services.observe.tracer import new_trace_id

    trace_id = new_trace_id()
    shape = {
        1: None,
        2: 1,
        3: 2,
        4: 2,
        5: 2,
        6: 1,
        7: 6,
        8: 1,
    }  # span -> parent: 1 > 2 > (3, 4, 5); 1 > 6 > 7; 1 > 8
    observe.record_spans(
        live.ctx,
        spans=[SpanData(trace_id, f"{n:016x}", None if p is None else f"{p:016x}", PROJECT, f"step {n}", "internal",
                        100.0 + n, 100.5 + n, "ok", "", {}, []) for n, p in shape.items()],
    )  # fmt: skip
    monkeypatch.setattr(trace_pages, "SPANS_PER_PAGE", 3)  # the server runs on a thread of this process
    page = sign_in(browser, live, "vic")  # reading needs no more than a viewer's role
    page.goto(f"/traces/{trace_id}?project={PROJECT}")
    page.wait_for_selector("#span-tree")
    names = "#span-tree tr:not(.more-spans) td:first-child"
    assert [t.split(" (")[0] for t in page.locator(names).all_inner_texts()] == ["step 1", "step 2", "step 3"]
    buttons = page.locator("#span-tree tr.more-spans button")
    assert buttons.all_inner_texts() == [
        "load 2 more child spans of step 2",
        "load 2 more child spans of step 1",
    ]
    live.shot(page, "span-tree-first-page")
    while buttons.count():  # each part loads where its row stood
        before = page.locator(names).count()
        buttons.first.click()
        page.locator(names).nth(before).wait_for()  # (no wait_for_function: the CSP forbids eval)
    shown = [t.split(" (")[0] for t in page.locator(names).all_inner_texts()]
    assert shown == [f"step {n}" for n in (1, 2, 3, 4, 5, 6, 7, 8)]  # depth first, nothing twice
    live.shot(page, "span-tree-loaded")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_dataset_search_finds_a_row_beyond_the_first_page_and_pages_on(
    browser: Any, live: Live, monkeypatch: Any
) -> None:
    from llmloop.server.ui.pages import datasets as dataset_pages

    monkeypatch.setattr(dataset_pages, "ROWS_PER_PAGE", 2)  # qa@2 has six rows, "item 9" the last
    page = sign_in(browser, live, "vic")
    page.goto(f"/datasets/qa?project={PROJECT}")
    page.fill("#row-search input[name='q']", "ITEM 9")
    page.click("#row-search button")
    page.wait_for_selector("#search-summary")
    assert page.inner_text("#search-summary") == "1 found in 6 rows read from row 0 of 6"
    assert "echo: item 9" in page.inner_text("table.rows")
    page.fill("#row-search input[name='q']", "item")
    page.click("#row-search button")
    page.wait_for_url("**q=item")
    page.click("a.next")  # the next page goes on with the same search
    page.wait_for_url("**offset=2&q=item")
    assert "the search goes on from row 4" in page.inner_text("#search-summary")
    assert "item 2" in page.inner_text("table.rows") and "item 0" not in page.inner_text("table.rows")
    assert page.errors == []  # type: ignore[attr-defined]
