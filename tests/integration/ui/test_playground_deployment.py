"""The playground run on a deployment, over real HTTP (``llmloop serve``'s app on 127.0.0.1): the
deployment's own gateway pipeline answers (its split and its limits apply), the trace is the
deployment's, and the saved run says which deployment and which model version answered.

The models are the seeded upstream versions on fake OpenAI servers (``m@1`` champion and ``m@3``
on the good one): real sockets, deterministic answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import free_port
from tests.fakes.server_thread import ServerThread
from tests.integration.ui.seed import PROJECT, Loop

from llmloop.services.observe.tracer import flush
from llmloop.services.serve import service as deploy_service
from llmloop.services.serve.schemas import DeploymentCreate, DeploymentSpec, TargetSpec
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import RunSearch

Q = {"project": PROJECT}
ANSWER = "echo: hello Ana, welcome"


def _deploy(ctx: Any, name: str, spec: DeploymentSpec, project: str = PROJECT) -> None:
    deploy_service.create_deployment(ctx, spec=DeploymentCreate(name=name, project=project, spec=spec))


@pytest.fixture(scope="module")
def live(seeded: tuple[Any, Loop]) -> Iterator[httpx.Client]:
    """The whole app on a real port, with the deployments these tests run on."""
    from llmloop.server.app import create_app

    ctx = seeded[0]
    half = [TargetSpec(model="m@champion", weight=1), TargetSpec(model="m@3", weight=1)]
    _deploy(ctx, "halves", DeploymentSpec(policy="weighted", targets=half))
    canary_all = [TargetSpec(model="m@champion", weight=0), TargetSpec(model="m@3", weight=1)]
    _deploy(ctx, "canary", DeploymentSpec(policy="weighted", targets=canary_all))
    one = DeploymentSpec(targets=[TargetSpec(model="m@champion")], limits={"requests_per_minute": 1})
    _deploy(ctx, "once", one)
    _deploy(ctx, "elsewhere", DeploymentSpec(targets=[TargetSpec(model="m@champion")]), project="other")
    with ServerThread(create_app(ctx), free_port()) as srv, httpx.Client(base_url=srv.url) as client:
        page = client.get("/prompts/greet", params=Q)
        assert page.status_code == 200
        token = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text)
        assert token is not None
        client.headers["x-csrf-token"] = token[1]
        yield client


def _stream(live: httpx.Client, **form: str) -> tuple[int, list[dict[str, Any]], str]:
    """(status, NDJSON events, body text) of one streamed playground run."""
    data = {"var:who": "Ana", **form}
    with live.stream("POST", "/prompts/greet/stream", params=Q, data=data) as answer:
        body = answer.read().decode()
    if not answer.headers["content-type"].startswith("application/x-ndjson"):
        return answer.status_code, [], body
    return answer.status_code, [json.loads(line) for line in body.splitlines() if line], body


def _run_id(events: list[dict[str, Any]]) -> str:
    found = re.search(r"/runs/([0-9a-f]+)", events[-1]["html"])
    assert found is not None, events[-1]
    return found[1]


def _runs(ctx: Any) -> int:
    return len(tracking.search_runs(ctx, query=RunSearch(project=PROJECT, limit=1000)).items)


def test_a_deployment_streams_through_its_split_and_the_run_names_who_answered(
    live: httpx.Client, seeded: tuple[Any, Loop]
) -> None:
    page = live.get("/prompts/greet", params=Q).text
    assert '<select name="deployment">' in page and "<option>halves</option>" in page
    assert "elsewhere" not in page, "another project's deployments are not offered"
    served: set[str] = set()
    for _ in range(16):  # a 50/50 split: both arms answer (all one arm: p = 2 / 65536)
        status, events, _ = _stream(live, deployment="halves")
        assert status == 200
        deltas = [e["delta"] for e in events if "delta" in e]
        assert len(deltas) > 1 and "".join(deltas) == ANSWER, "streamed in pieces"
        assert 'id="playground-deployment">halves<' in events[-1]["html"]
        run = live.get(f"/runs/{_run_id(events)}.json", params=Q).json()["run"]
        params = run["params"]
        assert params["deployment"] == "halves" and params["deployment_revision"] == "1"
        assert params["model_version"] in ("m@1", "m@3") and params["model"] == params["model_version"]
        assert params["target"] in ("m@champion", "m@3")
        served.add(params["model_version"])
    assert served == {"m@1", "m@3"}, "the deployment's split chose the arm"

    flush()
    trace = live.get(f"/api/v1/traces/{run['tags']['trace_id']}").json()
    assert trace["deployment"] == "halves" and trace["target"] == params["target"]
    names = [s["name"] for s in trace["spans"]]
    assert names[0] == "chat halves" and "gateway chat" in names and "routing" in names, names
    answered = [s for s in trace["spans"] if s["name"] == f"chat {params['target']}"]
    assert answered and answered[0]["attributes"]["gen_ai.usage.output_tokens"] > 0


def test_a_canary_at_full_weight_answers_every_run(live: httpx.Client, seeded: tuple[Any, Loop]) -> None:
    before = seeded[1].models.good.counts.get("three", 0)
    for _ in range(3):
        status, events, _ = _stream(live, deployment="canary")
        assert status == 200 and "".join(e.get("delta", "") for e in events) == ANSWER
        params = live.get(f"/runs/{_run_id(events)}.json", params=Q).json()["run"]["params"]
        assert (params["model_version"], params["target"]) == ("m@3", "m@3")
    assert seeded[1].models.good.counts.get("three", 0) == before + 3, "m@3's upstream answered each"


def test_the_api_runs_a_prompt_on_a_deployment(live: httpx.Client) -> None:
    body = {"project": PROJECT, "variables": {"who": "Bo"}, "deployment": "canary", "save_run": True}
    out = live.post("/api/v1/prompts/greet/run", json=body)
    assert out.status_code == 200, out.text
    result = out.json()
    assert result["output"] == "echo: hello Bo, welcome"
    assert (result["deployment"], result["model"], result["model_version"]) == ("canary", "m@3", "m@3")
    run = live.get(f"/api/v1/runs/{result['run_id']}").json()
    assert run["params"]["deployment"] == "canary"


def test_the_deployments_limits_apply_to_the_playground(live: httpx.Client, seeded: tuple[Any, Loop]) -> None:
    # one request a minute: of three calls at most two land in different minutes
    answers = [_stream(live, deployment="once") for _ in range(3)]
    refused = [a for a in answers if a[0] != 200]
    assert answers[0][0] == 200 and refused, [a[0] for a in answers]
    for status, events, body in refused:
        assert status == 429 and "1 requests per minute" in body and events == []
    saved = [a for a in answers if a[0] == 200]
    runs = tracking.search_runs(seeded[0], query=RunSearch(project=PROJECT, limit=1000)).items
    assert sum(r.params.get("deployment") == "once" for r in runs) == len(saved), (
        "a refused call saves no run"
    )


@pytest.mark.parametrize("name", ["nowhere", "elsewhere"])
def test_an_absent_or_other_projects_deployment_is_not_found_by_name(
    live: httpx.Client, seeded: tuple[Any, Loop], name: str
) -> None:
    runs = _runs(seeded[0])
    status, _, body = _stream(live, deployment=name)
    assert status == 404
    assert f"deployment &#39;{name}&#39; not found in project &#39;shop&#39;" in body, body
    api = live.post(
        "/api/v1/prompts/greet/run",
        json={"project": PROJECT, "variables": {"who": "Bo"}, "deployment": name, "save_run": True},
    )
    assert api.status_code == 404
    assert api.json()["error"]["message"] == f"deployment '{name}' not found in project 'shop'"
    assert api.json()["error"]["details"] == {"deployment": name}
    assert _runs(seeded[0]) == runs, "nothing saved"


def test_a_run_names_a_model_or_a_deployment_not_both_nor_another_projects_path(
    live: httpx.Client,
) -> None:
    both = _stream(live, deployment="canary", model="m")
    assert both[0] == 400 and "not both" in both[2]
    path = _stream(live, deployment="other/elsewhere")
    assert path[0] == 400 and "deployment" in path[2]
