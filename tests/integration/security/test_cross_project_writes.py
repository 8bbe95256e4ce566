"""A write that references an existing object is checked against that object's project (issue 14, class 3).

Attacks tried: spans claiming project ``q`` sent with a trace id project ``p`` owns (appending
spans, turning its status to error), over the service and over OTLP/HTTP; the same trace id
claimed for two projects in one batch; a dataset-use link from ``q``'s dataset to ``p``'s run.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from security_fixtures import *  # noqa: F403  (fixtures and helpers)
from security_fixtures import add_key, add_user

from llmloop.context import Context
from llmloop.errors import Conflict, NotFound
from llmloop.security.auth import actor_for
from llmloop.server.app import create_app
from llmloop.services.data import service as data_service
from llmloop.services.data.schemas import DatasetAdd
from llmloop.services.observe import service as traces
from llmloop.services.observe.schemas import SpanRecord
from llmloop.services.observe.writer import flush_all
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import RunCreate
from llmloop.store.tables.security import UserRow


def _as(ctx: Context, name: str) -> Context:
    with ctx.db.session() as s:
        user = s.query(UserRow).filter_by(name=name).one()
        return ctx.as_actor(actor_for(s, user, via="test"))


def _span(trace_id: str, project: str, *, error: bool = False) -> SpanRecord:
    return SpanRecord(
        trace_id=trace_id,
        span_id=uuid.uuid4().hex[:16],
        project=project,
        name="attack" if error else "seed",
        start_time=1.0,
        end_time=2.0,
        status_code="error" if error else "ok",
    )


@pytest.fixture(name="owned")
def owned_fixture(ctx: Context) -> str:
    """A trace of project p, and a member of q who wants to tamper with it."""
    add_user(ctx, "quinn", {"q": "member"})
    trace_id = uuid.uuid4().hex
    traces.record_spans(ctx, spans=[_span(trace_id, "p")])
    return trace_id


def _unchanged(ctx: Context, trace_id: str) -> None:
    trace = traces.get_trace(ctx, trace_id=trace_id)
    assert (trace.project, trace.status, trace.span_count, len(trace.spans)) == ("p", "ok", 1, 1)


def test_spans_never_join_another_projects_trace(ctx: Context, owned: str) -> None:
    quinn = _as(ctx, "quinn")
    mine = uuid.uuid4().hex
    stored = traces.record_spans(quinn, spans=[_span(owned, "q", error=True), _span(mine, "q")])
    assert stored == 1  # the attacker's own trace is stored, the foreign one is not
    _unchanged(ctx, owned)
    assert traces.get_trace(quinn, trace_id=mine).project == "q"
    with pytest.raises(Conflict, match=owned) as refused:
        traces.refuse_foreign_traces(quinn, spans=[_span(owned, "q")])
    assert "'p'" not in refused.value.message  # the owner is not named
    with pytest.raises(Conflict):  # a project not created yet owns no trace either
        traces.refuse_foreign_traces(ctx, spans=[_span(owned, "brand-new")])
    traces.refuse_foreign_traces(quinn, spans=[_span(mine, "q")])  # one's own trace is fine


def test_one_batch_cannot_claim_a_trace_for_two_projects(ctx: Context) -> None:
    shared = uuid.uuid4().hex
    assert traces.record_spans(ctx, spans=[_span(shared, "p"), _span(shared, "q", error=True)]) == 1
    trace = traces.get_trace(ctx, trace_id=shared)
    assert (trace.project, trace.status, trace.span_count) == ("p", "ok", 1)


def test_otlp_over_http_cannot_append_to_another_projects_trace(ctx: Context, owned: str) -> None:
    client = TestClient(create_app(ctx))
    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": owned,
                                "spanId": uuid.uuid4().hex[:16],
                                "name": "attack",
                                "startTimeUnixNano": "1000000000",
                                "endTimeUnixNano": "3000000000",
                                "status": {"code": 2},
                            }
                        ]
                    }
                ]
            }
        ]
    }
    headers = {"Authorization": f"Bearer {add_key(ctx, 'quinn')}", "x-llmloop-project": "q"}
    resp = client.post("/v1/traces", json=body, headers=headers)
    assert resp.status_code == 409, resp.text
    assert resp.json()["error"]["type"] and "another project" in resp.json()["message"]
    flush_all()
    _unchanged(ctx, owned)


def test_dataset_use_links_only_runs_the_caller_may_write(ctx: Context, tmp_path: Path) -> None:
    add_user(ctx, "quinn", {"q": "member"})
    theirs = tracking.create_run(ctx, spec=RunCreate(project="p")).id
    (tmp_path / "rows.jsonl").write_text('{"text": "a"}\n')
    data_service.add_version(ctx, spec=DatasetAdd(name="d", project="q", path=str(tmp_path / "rows.jsonl")))
    quinn = _as(ctx, "quinn")
    with pytest.raises(NotFound) as foreign:
        data_service.record_use(quinn, ref="d@1", run_id=theirs, project="q")
    with pytest.raises(NotFound) as absent:
        data_service.record_use(quinn, ref="d@1", run_id="0" * 32, project="q")
    assert foreign.value.to_dict() == {
        "code": absent.value.code,
        "message": absent.value.message.replace("0" * 32, theirs),
        "details": {"run_id": theirs},
    }
    own = tracking.create_run(quinn, spec=RunCreate(project="q")).id
    data_service.record_use(quinn, ref="d@1", run_id=own, project="q")
