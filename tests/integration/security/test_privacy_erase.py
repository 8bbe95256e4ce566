"""``privacy erase`` reaches every area that stores a person's id: afterwards the WHOLE store is searched.

The person is an llmloop identity (they log runs, write feedback and prompts) and an end user of
an instrumented app (their traces carry ``user.id`` and ``session.id``; another user's prompt
quotes their address). After the erasure no table, column or artifact blob holds the id in any
form JSON may have written it, what belongs to others is intact, and the audit chain still verifies.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

from llmloop.context import Context
from llmloop.security import audit
from llmloop.security.rbac import Actor
from llmloop.services.observe import service as observe
from llmloop.services.observe.schemas import SpanRecord, TraceSearch
from llmloop.services.prompts import service as prompts
from llmloop.services.prompts.schemas import PromptCreate
from llmloop.services.serve import feedback
from llmloop.services.serve.schemas import FeedbackCreate
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import RunCreate

SUBJECT = "zoë-7f3c@example.org"  # non-ASCII: JSON may store it escaped


def _forms(subject: str) -> list[bytes]:
    texts = {subject, json.dumps(subject)[1:-1], json.dumps(subject, ensure_ascii=False)[1:-1]}
    return [t.encode() for t in texts]


def _store_hits(ctx: Context, subject: str) -> list[str]:
    """Where ``subject`` still is: ``table.column`` for the metadata store, ``blob:<sha>`` for artifacts."""
    hits: list[str] = []
    forms = _forms(subject)
    with ctx.db.connect() as conn:
        for table in inspect(ctx.db.engine).get_table_names():
            result = conn.execute(text(f'SELECT * FROM "{table}"'))
            for row in result:
                for column, value in zip(result.keys(), row, strict=True):
                    raw = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
                    if any(f in raw for f in forms):
                        hits.append(f"{table}.{column}")
    for sha in ctx.artifacts.iter_hashes():
        data = ctx.artifacts.read_bytes(sha)
        if any(f in data for f in forms):
            hits.append(f"blob:{sha}")
    return sorted(set(hits))


def _span(trace: int, span: int, **attributes: Any) -> SpanRecord:
    t = time.time()
    return SpanRecord(
        trace_id=f"{trace:032x}",
        span_id=f"{span:016x}",
        project="p",
        name="chat",
        start_time=t,
        end_time=t + 1,
        attributes=attributes,
    )


def test_erase_leaves_the_id_nowhere_in_the_store(ctx: Context, tmp_path: Path) -> None:
    person = ctx.as_actor(Actor(id=SUBJECT, roles={"p": "member"}, via="http 10.0.0.7"))
    run = tracking.create_run(person, spec=RunCreate(project="p", params={"lr": 0.1}))
    notes = tmp_path / "notes.txt"
    notes.write_text(f"run by {SUBJECT}", encoding="utf-8")
    tracking.log_artifact(person, run_id=run.id, path=notes)
    tracking.end_run(person, run_id=run.id)
    shared = ctx.artifacts.put_bytes(b"weights everyone uses")
    tracking.record_artifact(person, run_id=run.id, name="weights", sha256=shared.sha256, size=shared.size)
    other_run = tracking.create_run(ctx, spec=RunCreate(project="p"))
    tracking.record_artifact(ctx, run_id=other_run.id, name="weights", sha256=shared.sha256, size=shared.size)

    observe.record_spans(
        ctx,
        spans=[
            _span(1, 1, **{"user.id": SUBJECT, "session.id": "s-1", "gen_ai.request.model": "m"}),
            _span(1, 2, **{"gen_ai.prompt": "hi"}),
            _span(2, 3, **{"session.id": SUBJECT}),
            _span(3, 4, **{"user.id": "bob", "gen_ai.prompt": f"forward this to {SUBJECT}"}),
            _span(4, 5, **{"user.id": "bob", "gen_ai.prompt": "unrelated"}),
        ],
    )
    feedback.create_feedback(person, spec=FeedbackCreate(trace_id=f"{4:032x}", score=1.0, comment="good"))
    feedback.create_feedback(ctx, spec=FeedbackCreate(trace_id=f"{1:032x}", score=0.0))
    feedback.create_feedback(ctx, spec=FeedbackCreate(trace_id=f"{4:032x}", comment=f"ask {SUBJECT}"))
    kept_feedback = feedback.create_feedback(ctx, spec=FeedbackCreate(trace_id=f"{4:032x}", label="fine"))
    prompt = prompts.create_prompt_version(
        person, spec=PromptCreate(project="p", name="greet", template="hi")
    )
    assert len(_store_hits(ctx, SUBJECT)) >= 6  # the search finds what it must later not find

    from llmloop.services.privacy import service as privacy

    report = privacy.erase_subject(ctx, subject=SUBJECT)

    assert _store_hits(ctx, SUBJECT) == []
    assert report.removed["traces"] == 3 and report.removed["feedback"] == 2 and report.removed["runs"] == 1
    assert report.artifacts_removed == 1  # the notes; the shared weights are still another run's
    assert ctx.artifacts.exists(shared.sha256)
    left = observe.list_traces(ctx, query=TraceSearch(project="p")).items
    assert [t.trace_id for t in left] == [f"{4:032x}"]
    remaining = feedback.list_feedback(ctx, trace_id=f"{4:032x}")
    assert [f.id for f in remaining] == [kept_feedback.id]
    kept = prompts.get_prompt_version(ctx, project="p", ref=f"{prompt.name}@{prompt.version}")
    assert kept.created_by is not None and kept.created_by.startswith("erased:")
    assert audit.verify_chain(ctx).ok
