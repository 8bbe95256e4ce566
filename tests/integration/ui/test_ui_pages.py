"""Every page answers in local mode, its JSON twin holds the data the /api/v1 calls return, and pages
keep to the CSP (no inline script or style, no external URL)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.integration.ui.seed import PROJECT, Loop

PAGES = [
    "/",
    "/datasets",
    "/prompts",
    "/runs",
    "/models",
    "/evaluations",
    "/deployments",
    "/traces",
    "/annotate",
    "/monitors",
    "/pipelines",
    "/admin",
]
Q = {"project": PROJECT}


def _details(loop: Loop) -> list[str]:
    return [
        "/datasets/qa",
        "/datasets/qa?a=1&b=2",
        "/prompts/greet",
        f"/runs/{loop.runs[0]}",
        f"/runs/compare?ids={loop.runs[0]}&ids={loop.runs[1]}",
        "/models/m",
        f"/evaluations/{loop.evaluations[0]}",
        f"/evaluations/compare?ids={loop.evaluations[0]}&ids={loop.evaluations[1]}",
        f"/evaluations/compare?ids={loop.evaluations[0]}&ids={loop.evaluations[1]}&show=losses",
        "/deployments/chat",
        f"/traces/{loop.traces[0]}",
        f"/traces/{loop.traces[0]}/spans",
        f"/pipelines/{loop.pipelines[0]}",
    ]


class Markup(HTMLParser):
    """What the CSP cares about: scripts, inline styles and handlers, and every URL in the page."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and not names.get("src") and names.get("type") != "application/json":
            self.problems.append("inline script")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if value and re.match(r"\s*(https?:|//|javascript:)", value):
                self.problems.append(f"<{tag} {name}={value[:60]}>")


def _check_markup(text: str) -> list[str]:
    parser = Markup()
    parser.feed(text)
    return parser.problems


def test_every_page_answers_in_local_mode_with_its_json_twin(
    ui: TestClient, seeded: tuple[Any, Loop]
) -> None:
    for page in [*PAGES, *_details(seeded[1])]:
        path = page + ("&" if "?" in page else "?") + f"project={PROJECT}"
        html = ui.get(path)
        assert html.status_code == 200, (path, html.text[:300])
        assert html.headers["content-type"].startswith("text/html")
        csp = html.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert _check_markup(html.text) == [], path
        base, _, query = path.partition("?")
        twin = ("/index" if base == "/" else base) + ".json" + (f"?{query}" if query else "")
        data = ui.get(twin)
        assert data.status_code == 200 and data.headers["content-type"] == "application/json", twin
        if not base.endswith("/spans"):  # a fragment htmx loads into the trace page, not a page
            assert f'href="{twin}' in html.text.replace("&amp;", "&"), f"{path} does not link its twin"


@pytest.mark.parametrize(
    ("page", "key", "api", "field"),
    [
        ("/runs.json", "runs", "/api/v1/runs", None),
        ("/models.json", "models", "/api/v1/models", "items"),
        ("/datasets.json", "datasets", "/api/v1/datasets", "items"),
        ("/prompts.json", "prompts", "/api/v1/prompts", "items"),
        ("/deployments.json", "deployments", "/api/v1/deployments", "items"),
        ("/traces.json", "traces", "/api/v1/traces", None),
        ("/models/m.json", "versions", "/api/v1/models/m/versions", "items"),
        ("/deployments/chat.json", "deployment", "/api/v1/deployments/chat", None),
        ("/admin.json", "users", "/api/v1/users", None),
        ("/pipelines.json", "pipelines", "/api/v1/pipelines/runs", "items"),
    ],
)
def test_a_json_twin_holds_what_the_api_returns(
    ui: TestClient, page: str, key: str, api: str, field: str | None
) -> None:
    twin = ui.get(page, params={**Q, "limit": 50}).json()[key]
    answer = ui.get(api, params={**Q, "limit": 50}).json()
    expected = answer[field] if field else answer
    if isinstance(expected, dict) and "next_page_token" in expected:  # a page of a list: compare the items
        assert twin["items"] == expected["items"][: len(twin["items"])] and twin["items"]
    else:
        assert twin == expected


def test_a_pipeline_run_page_draws_its_steps_by_state_and_says_what_the_cache_did(
    ui: TestClient, seeded: tuple[Any, Loop]
) -> None:
    first, second = seeded[1].pipelines
    listed = ui.get("/pipelines", params=Q).text
    assert f"/pipelines/{second}?project={PROJECT}" in listed and f"/pipelines/{first}?" in listed
    page = ui.get(f"/pipelines/{second}", params=Q).text
    assert 'data-step="pack" data-state="cached"' in page and 'data-step="unpack" data-state="cached"' in page
    assert "<line " in page  # the arrow from pack to unpack
    assert "hit: same code, config and input content as run" in page
    twin = ui.get(f"/pipelines/{second}.json", params=Q).json()
    assert twin["run"] == ui.get(f"/api/v1/pipelines/runs/{second}", params=Q).json()
    assert [s["outputs"] for s in twin["run"]["steps"]] == [{"value": '["item", 1]'}, {"value": ["item", 1]}]
    assert ui.get("/pipelines/0123456789abcdef0123456789abcdef", params=Q).status_code == 404


def test_a_trace_page_is_the_api_trace_without_its_spans_which_load_apart(
    ui: TestClient, seeded: tuple[Any, Loop]
) -> None:
    trace_id = seeded[1].traces[0]
    api = ui.get(f"/api/v1/traces/{trace_id}", params=Q).json()
    page = ui.get(f"/traces/{trace_id}.json", params=Q).json()
    assert page["trace"] == {**api, "spans": [], "feedback": api["feedback"]}
    assert page["input"].startswith("Where to go") and page["output"].startswith("Try Lisbon")
    tree = ui.get(f"/traces/{trace_id}/spans.json", params=Q).json()["tree"]
    assert tree == ui.get(f"/api/v1/traces/{trace_id}/spans", params=Q).json()  # the twin is the API's page
    assert [(r["span"]["name"], r["depth"], r["children"]) for r in tree["rows"]] == [
        ("chat", 0, 1),
        ("generate", 1, 0),
    ]
    assert [r["span"] for r in tree["rows"]] == api["spans"] and tree["more"] == []


def test_a_big_span_tree_loads_a_page_of_rows_at_a_time(
    ui: TestClient, seeded: tuple[Any, Loop], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmloop.server.ui.pages import traces as page

    monkeypatch.setattr(page, "SPANS_PER_PAGE", 1)  # the seeded traces have 2 spans, not thousands
    spans = f"/traces/{seeded[1].traces[0]}/spans"
    first = ui.get(spans, params=Q)
    assert first.text.count('class="timeline"') == 1 and "load 1 child span of chat<" in first.text
    token = ui.get(f"{spans}.json", params=Q).json()["tree"]["more"][0]["page_token"]
    assert f"page_token={token}" in first.text  # the row that loads them asks for them
    rest = ui.get(spans, params={**Q, "page_token": token})
    assert rest.text.count('class="timeline"') == 1 and "generate" in rest.text and "<table" not in rest.text
    tree = ui.get(f"{spans}.json", params={**Q, "page_token": token}).json()["tree"]
    assert [(r["span"]["name"], r["depth"]) for r in tree["rows"]] == [("generate", 1)] and tree["more"] == []


def test_a_dataset_page_diffs_two_versions_and_pages_its_rows(ui: TestClient) -> None:
    data = ui.get("/datasets/qa.json", params={**Q, "a": 1, "b": 2}).json()
    assert (data["diff"]["added"], data["diff"]["removed"]) == (1, 0)
    assert data["show"]["version"]["version"] == 2 and len(data["rows"]) == 6
    assert 'id="diff-summary"' in ui.get("/datasets/qa", params={**Q, "a": 1, "b": 2}).text


def test_a_dataset_page_searches_the_whole_version_and_pages_the_search(
    ui: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmloop.server.ui.pages import datasets as page

    monkeypatch.setattr(page, "ROWS_PER_PAGE", 2)  # qa@2 has six rows: its last is beyond the first page
    data = ui.get("/datasets/qa.json", params={**Q, "q": "ITEM 9"}).json()
    assert [r["prompt"] for r in data["rows"]] == ["item 9"]
    assert (data["next_offset"], data["scanned"]) == (None, 6)
    api = ui.get("/api/v1/datasets/qa/versions/2/rows", params={**Q, "q": "ITEM 9", "limit": 2}).json()
    assert api["items"] == data["rows"]
    html = ui.get("/datasets/qa", params={**Q, "q": "ITEM 9"}).text
    assert (
        "search this version" in html
        and "1 found in 6 rows read from row 0 of 6" in html
        and "echo: item 9" in html
    )
    first = ui.get("/datasets/qa.json", params={**Q, "q": "item"}).json()
    assert [r["prompt"] for r in first["rows"]] == ["item 0", "item 1"] and first["next_offset"] == 2
    more = ui.get("/datasets/qa", params={**Q, "q": "item"}).text
    assert "offset=2&amp;q=item" in more  # the next page goes on with the search
    rest = ui.get("/datasets/qa.json", params={**Q, "q": "item", "offset": 4}).json()
    assert [r["prompt"] for r in rest["rows"]] == ["item 4", "item 9"] and rest["next_offset"] is None
    bad = ui.get("/datasets/qa.json", params={**Q, "q": "x" * 201})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "q"


def test_compare_shows_confidence_intervals_and_p_values(ui: TestClient, seeded: tuple[Any, Loop]) -> None:
    a, b = seeded[1].evaluations
    page = ui.get("/evaluations/compare", params={**Q, "ids": [a, b]})
    assert page.status_code == 200
    assert "CI of Δ" in page.text and "p (bootstrap)" in page.text
    data = ui.get("/evaluations/compare.json", params={**Q, "ids": [a, b]}).json()
    delta = data["comparison"]["pairs"][0]["metrics"][0]
    assert delta["ci_low"] is not None and delta["p_value"] is not None


def _judge(batch: list[list[dict[str, str]]], **params: Any) -> list[str]:
    """A judge that explains itself: an answer that echoes the item is right."""
    out = []
    for messages in batch:
        answer = messages[-1]["content"].split("Assistant's answer:")[1].split("Rate the answer")[0]
        out.append("It echoes the item.\nScore: 5" if "echo:" in answer else "It does not echo.\nScore: 1")
    return out


def test_judge_rationales_and_the_filtered_diff_on_the_pages_and_their_twins(
    ui: TestClient, seeded: tuple[Any, Loop]
) -> None:
    from llmloop.client import LocalClient
    from llmloop.services.evaluate import service as eval_service
    from llmloop.services.evaluate.suite import MetricSpec, Suite

    ctx = seeded[0]
    suite = Suite.model_validate(
        {"name": "judged-qa", "dataset": {"ref": "qa@1"}, "metrics": ["exact_match"]}
    ).model_copy(
        update={"metrics": [MetricSpec(metric="llm_judge", key="judged", options={"judge": _judge})]}
    )
    ids = [
        eval_service.run_suite(ctx, suite=suite, model=model, project=PROJECT).id
        for model in (
            lambda batch, **p: ["nope" for _ in batch],  # baseline: never echoes
            lambda batch, **p: [
                ("echo: " + m[-1]["content"]) if i % 2 == 0 else "nope" for i, m in enumerate(batch)
            ],
        )
    ]
    data = ui.get(f"/evaluations/{ids[1]}.json", params=Q).json()
    assert data["examples"]["items"][0]["rationales"] == {"judged": "It echoes the item.\nScore: 5"}
    assert data["examples"]["items"][1]["rationales"] == {"judged": "It does not echo.\nScore: 1"}
    page = ui.get(f"/evaluations/{ids[1]}", params=Q).text
    assert "<details" in page and "It echoes the item." in page

    q = {**Q, "ids": ids, "show": "wins", "key": "judged"}
    twin = ui.get("/evaluations/compare.json", params=q).json()
    (diff,) = twin["diffs"]
    client = LocalClient(ctx=ctx)
    expected = client.evaluations.diff_examples(ids[0], ids[1], key="judged", outcome="wins", limit=25)
    assert diff == expected.model_dump(mode="json")  # the twin holds what the client returns
    n_rows = data["examples"]["total"]
    assert diff["total"] == (n_rows + 1) // 2 and {x["outcome"] for x in diff["items"]} == {"win"}
    html = ui.get("/evaluations/compare", params=q).text
    assert "wins on judged" in html and "It does not echo." in html and "It echoes the item." in html
    none_lost = ui.get("/evaluations/compare", params={**q, "show": "losses"}).text
    assert "losses on judged" in none_lost and "It echoes the item." not in none_lost
    refused = ui.get("/evaluations/compare.json", params={**q, "ids": ids[:1] + ids, "page_token": "x"})
    assert refused.status_code == 400 and refused.json()["error"]["details"]["field"] == "page_token"


def test_a_change_from_a_page_needs_the_pages_token_even_in_local_mode(
    ui: TestClient, seeded: tuple[Any, Loop]
) -> None:
    loop = seeded[1]
    trace_id = loop.traces[-1]
    form = {"verdict": "up", "reviews": "1"}
    refused = ui.post(f"/annotate/{trace_id}", params=Q, data=form, headers={"hx-request": "true"})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.text
    page = ui.get("/annotate", params=Q).text
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', page)
    assert token is not None
    ok = ui.post(
        f"/annotate/{trace_id}", params=Q, data=form, headers={"hx-request": "true", "x-csrf-token": token[1]}
    )
    assert ok.status_code == 200 and 'id="saved"' in ok.text
    stored = ui.get("/api/v1/feedback", params={**Q, "trace_id": trace_id}).json()["items"]
    assert [(f["score"], f["label"]) for f in stored] == [(1.0, "thumbs_up")]


def test_an_unknown_object_is_a_404_page_and_a_404_envelope(ui: TestClient) -> None:
    page = ui.get("/models/nope", params=Q)
    assert (
        page.status_code == 404
        and "not_found" in page.text
        and page.headers["content-type"].startswith("text/html")
    )
    twin = ui.get("/models/nope.json", params=Q)
    assert twin.status_code == 404 and twin.json()["error"]["code"] == "not_found"


def test_a_fresh_install_answers_every_page(isolated_home: Any) -> None:
    """Nothing was made yet, not even the default project: every page is an empty state, not a 404."""
    from llmloop.server.app import create_app

    with TestClient(create_app()) as fresh:
        for path in PAGES:
            answer = fresh.get(path)
            assert answer.status_code == 200, (path, answer.text[:200])


def test_home_shows_what_each_deployments_targets_are_doing_live(ui: TestClient) -> None:
    """The loop at a glance includes production: each deployment's split with its live figures, the
    same as the deployment's status in the API."""
    twin = ui.get("/index.json", params=Q).json()["live"]
    status = ui.get("/api/v1/deployments/chat/status", params=Q).json()
    assert [d["name"] for d in twin] == ["chat"] and twin[0]["targets"] == status["targets"]
    assert {t["target"] for t in status["targets"]} == {"m@champion", "m@3"}
    page = ui.get("/", params=Q).text
    assert 'id="live"' in page and f'href="/deployments/chat?project={PROJECT}"' in page


def test_a_deployment_page_shows_each_targets_live_figures_as_the_status_api(ui: TestClient) -> None:
    twin = ui.get("/deployments/chat.json", params=Q).json()["live"]
    assert twin == ui.get("/api/v1/deployments/chat/status", params=Q).json() | {"since": twin["since"]}
    page = ui.get("/deployments/chat", params=Q).text
    assert 'id="live-charts"' in page and 'id="live"' in page and "m@champion" in page


def test_a_deployment_rolls_back_from_its_page_to_an_earlier_revision(
    ui: TestClient, seeded: tuple[Any, Loop]
) -> None:
    from llmloop.services.serve import service as deploy_service
    from llmloop.services.serve.schemas import DeploymentCreate, DeploymentSpec

    spec = DeploymentSpec.model_validate({"targets": [{"model": "m@3"}]})
    made = DeploymentCreate(name="chat", project=PROJECT, spec=spec, message="all on m@3")
    deploy_service.create_deployment(seeded[0], spec=made)
    page = ui.get("/deployments/chat", params=Q).text
    assert 'data-revision="1">roll back to r1<' in page and 'data-revision="2"' not in page  # not to itself
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', page)
    assert token is not None
    headers = {"hx-request": "true", "x-csrf-token": token[1]}
    bad = ui.post("/deployments/chat/rollback", params=Q, data={"to_revision": "0"}, headers=headers)
    assert bad.status_code == 400 and "to_revision" in bad.text
    done = ui.post("/deployments/chat/rollback", params=Q, data={"to_revision": "1"}, headers=headers)
    assert done.status_code == 200 and 'id="rolled-back"' in done.text, done.text
    now = ui.get("/api/v1/deployments/chat", params=Q).json()
    assert now["revision"] == 3 and [t["model"] for t in now["spec"]["targets"]] == ["m@champion", "m@3"]
    assert (
        ui.post("/deployments/chat/rollback", params=Q, data={"to_revision": "1"}).status_code == 403
    )  # no token


def test_a_sweep_run_shows_its_trials_with_parallel_coordinates_and_the_best_marked(
    ui: TestClient, seeded: tuple[Any, Loop]
) -> None:
    """Recorded as ``train.sweep`` records them: a ``sweep`` parent, trials as child runs that tag their
    sampled params and state; the best by the sweep's direction (minimize eval_loss) is marked."""
    import json

    from llmloop.services.tracking import service as tracking
    from llmloop.services.tracking.schemas import RunBatch, RunCreate

    ctx = seeded[0]
    parent = tracking.create_run(
        ctx,
        spec=RunCreate(
            project=PROJECT, name="lr-sweep", kind="sweep", params={"objective": "minimize eval_loss"}
        ),
    )
    trials = [({"lr": 1e-4, "r": 8}, 0.9), ({"lr": 1e-3, "r": 16}, 0.4), ({"lr": 3e-3, "r": 8}, 0.7)]
    ids = []
    for i, (params, loss) in enumerate(trials):
        tags = {"trial": f"t{i}", "trial_params": json.dumps(params), "trial_state": "complete"}
        child = tracking.create_run(
            ctx, spec=RunCreate(project=PROJECT, name=f"t{i}", parent_id=parent.id, tags=tags)
        )
        tracking.log_batch(ctx, run_id=child.id, batch=RunBatch(points=[["eval_loss", loss, 1, 0.0]]))  # type: ignore[list-item]
        ids.append(child.id)
    page = ui.get(f"/runs/{parent.id}", params=Q).text
    assert 'id="sweep"' in page and "3 trials, minimize eval_loss" in page
    assert page.count('<polyline class="trial') == 3 and page.count('class="trial best"') == 1
    assert f'href="/runs/{ids[1]}?project={PROJECT}">t1</a> (best)' in page
    twin = ui.get(f"/runs/{parent.id}.json", params=Q).json()["sweep"]
    assert twin["best"] == [t["run"]["id"] for t in twin["trials"]].index(ids[1])
    assert twin["axes"] == ["lr", "r"] and sorted(t["value"] for t in twin["trials"]) == [0.4, 0.7, 0.9]
    plain = ui.get(f"/runs/{ids[0]}", params=Q).text
    assert 'id="sweep"' not in plain  # a trial is a run like any other
