"""Feedback through both clients: same JSON, same errors; an export lands in the caller's file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.client.conftest import Pair
from tests.integration.client.test_parity_traces import record_exchange

from llmloop.errors import InvalidInput, NotFound
from llmloop.services.serve.schemas import FeedbackCreate, FeedbackExportRequest

COVERED = {"feedback.create", "feedback.list", "feedback.export"}


def test_feedback_reads_the_same_and_shows_on_its_trace(pair: Pair) -> None:
    trace = record_exchange(pair, model="tiny@1", answer="Oslo")
    given = [
        c.feedback.create_feedback(FeedbackCreate(trace_id=trace, score=s, label=lab))
        for c, s, lab in ((pair.local, 1.0, "good"), (pair.remote, 0.0, "bad"))
    ]
    assert {f.project for f in given} == {"parity"}
    items = pair.same(lambda c: c.feedback.list_feedback(trace_id=trace))
    assert [f["label"] for f in items] == ["bad", "good"]  # newest first
    shown = pair.same(lambda c: c.traces.get_trace(trace))
    assert {f["id"] for f in shown["feedback"]} == {f.id for f in given}


def test_exports_write_the_same_rows_on_the_callers_disk(pair: Pair, tmp_path: Path) -> None:
    trace = record_exchange(pair, model="tiny@1", answer="Rome")
    pair.local.feedback.create_feedback(FeedbackCreate(trace_id=trace, correction="Lisbon, for the light"))
    request = FeedbackExportRequest(kind="sft", project="parity")
    results = [c.feedback.export(request, tmp_path / f"{c.remote}.jsonl") for c in (pair.local, pair.remote)]
    assert results[0].trace_ids == results[1].trace_ids and trace in results[0].trace_ids
    local, remote = ((tmp_path / f"{flag}.jsonl").read_text() for flag in (False, True))
    assert local == remote
    rows = [json.loads(line) for line in remote.splitlines()]
    assert {"role": "assistant", "content": "Lisbon, for the light"} in [r["messages"][-1] for r in rows]
    registered = pair.remote.feedback.export(
        FeedbackExportRequest(kind="sft", project="parity", dataset="from-feedback"), tmp_path / "reg.jsonl"
    )
    assert registered.dataset_version == "from-feedback@1" and (tmp_path / "reg.jsonl").read_text() == remote


def test_bad_feedback_raises_the_same_class(pair: Pair) -> None:
    unknown = FeedbackCreate(trace_id="0" * 31 + "2", score=1.0)
    assert pair.same_error(lambda c: c.feedback.create_feedback(unknown)) is NotFound
    empty = FeedbackExportRequest(kind="preference", project="nobody-here", dataset="nothing")
    assert (
        pair.same_error(lambda c: c.feedback.export(empty, Path("/nonexistent/never.jsonl"))) is InvalidInput
    )


def test_sft_export_keeps_approved_answers_when_asked(pair: Pair, tmp_path: Path) -> None:
    """approved_min_score: answers rated at least that well join the corrections, as served; lower
    scores and unrated traces stay out, and both clients agree."""
    good = record_exchange(pair, model="tiny@1", answer="Oslo")
    meh = record_exchange(pair, model="tiny@1", answer="Bergen")
    wrong = record_exchange(pair, model="tiny@1", answer="Rome")
    pair.local.feedback.create_feedback(FeedbackCreate(trace_id=good, score=1.0))
    pair.local.feedback.create_feedback(FeedbackCreate(trace_id=meh, score=0.5))
    pair.local.feedback.create_feedback(FeedbackCreate(trace_id=wrong, score=0.0, correction="Lisbon"))

    def answers(request: FeedbackExportRequest) -> list[list[str]]:
        out = []
        for c in (pair.local, pair.remote):
            path = tmp_path / f"{c.remote}-{request.approved_min_score}.jsonl"
            c.feedback.export(request, path)
            rows = [json.loads(line) for line in path.read_text().splitlines()]
            mine = [r for r in rows if r["trace_id"] in (good, meh, wrong)]  # the module shares a store
            out.append(sorted(r["messages"][-1]["content"] for r in mine))
        return out

    assert answers(FeedbackExportRequest(kind="sft", project="parity")) == [["Lisbon"], ["Lisbon"]]
    kept = answers(FeedbackExportRequest(kind="sft", project="parity", approved_min_score=1.0))
    assert kept == [["Lisbon", "Oslo"], ["Lisbon", "Oslo"]]
    assert answers(FeedbackExportRequest(kind="sft", project="parity", approved_min_score=0.5))[1] == [
        "Bergen",
        "Lisbon",
        "Oslo",
    ]


def test_approved_answers_are_refused_for_preference_exports() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="approved_min_score applies to sft exports only"):
        FeedbackExportRequest(kind="preference", approved_min_score=1.0)
