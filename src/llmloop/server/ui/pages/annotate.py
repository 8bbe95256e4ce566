"""``/annotate``: the annotation queue. Review traces one at a time; what is submitted is feedback.

The queue is the project's recent traces that still need a review from this person, until each
has ``reviews`` of them (N reviews per item, from different people). A review is stored through
``client.feedback.create_feedback``, the feedback the loop exports into preference and
correction datasets. Keyboard: ``j`` thumbs up, ``k`` thumbs down, ``s`` skip (``static/app.js``).
A trace that also holds a shadow target's answer is a pairwise item: the two answers side by side in
a seeded order (``pairwise.py``), keys ``1`` left, ``2`` right, ``3`` tie. The choice is stored as
feedback labelled ``pairwise:served|shadow|tie`` with the winner as ``preferred``, which
``feedback export --as preference`` turns into a chosen/rejected pair.
Agreement between reviewers (Cohen's and Fleiss' kappa) is computed per task, verdicts apart from
pairwise choices (``agreement.by_task``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import Response

from llmloop.errors import InvalidInput
from llmloop.server.ui.agreement import by_task
from llmloop.server.ui.pages.traces import io_of
from llmloop.server.ui.pairwise import chosen_side, pair_order
from llmloop.server.ui.render import View, action, fragment, page
from llmloop.services.observe.schemas import TraceSearch
from llmloop.services.serve.feedback_export import PAIRWISE, exchange_of
from llmloop.services.serve.schemas import Feedback, FeedbackCreate, TraceDetail

router = APIRouter()
WINDOW = 100  # recent traces the queue is drawn from
VERDICTS = {"up": (1.0, "thumbs_up"), "down": (0.0, "thumbs_down")}


def _label(f: Feedback) -> str | None:
    if f.label is not None:
        return f.label
    return None if f.score is None else f"score {f.score:g}"


def queue(view: View, reviews: int, skip: list[str]) -> dict[str, Any]:
    """The next trace to review, progress through the queue, and agreement so far."""
    c = view.client
    recent = c.traces.list_traces(TraceSearch(project=view.project, limit=WINDOW)).items
    given = c.feedback.list_feedback(project=view.project)
    labelled = [(f.trace_id, f.created_by or "?", label) for f in given if (label := _label(f)) is not None]
    by_trace: dict[str, dict[str, str]] = {}
    for trace_id, reviewer, label in labelled:
        by_trace.setdefault(trace_id, {}).setdefault(reviewer, label)
    me = view.actor.id
    done = [t for t in recent if me in by_trace.get(t.trace_id, {})]
    todo = [
        t
        for t in recent
        if me not in by_trace.get(t.trace_id, {})
        and len(by_trace.get(t.trace_id, {})) < reviews
        and t.trace_id not in skip
    ]
    item = c.traces.get_trace(todo[0].trace_id) if todo else None
    question, answer = io_of(item) if item else ("", "")
    return {
        "item": item.model_copy(update={"spans": []}) if item else None,
        "input": question,
        "output": answer,
        "pair": _pair(item, me) if item else None,
        "reviewed": len(done),
        "remaining": len(todo),
        "reviews": reviews,
        "skip": skip,
        "agreement": by_task(labelled),
        "can_review": view.can("feedback:write"),
    }


def _answers(item: TraceDetail) -> dict[str, str] | None:
    """The served and the shadow answer of a trace, when it holds both (a pairwise item)."""
    exchange = exchange_of(item)
    if exchange is None or exchange.shadow is None:
        return None
    return {"served": exchange.answer, "shadow": exchange.shadow}


def _pair(item: TraceDetail, reviewer: str) -> list[str] | None:
    """The two answers as this reviewer sees them, left then right (which is which stays server-side)."""
    answers = _answers(item)
    return None if answers is None else [answers[side] for side in pair_order(item.trace_id, reviewer)]


def _pairwise(view: View, trace_id: str, choice: str) -> FeedbackCreate:
    """The feedback a pairwise choice stands for: its side as the label, the winner as ``preferred``."""
    try:
        side = chosen_side(trace_id, view.actor.id, choice)
    except ValueError as e:
        raise InvalidInput(str(e), details={"field": "choice"}) from None
    answers = _answers(view.client.traces.get_trace(trace_id))
    if answers is None:
        raise InvalidInput(
            "this trace has one answer, not two to choose between", details={"trace_id": trace_id}
        )
    preferred = None if side == "tie" else answers[side]
    return FeedbackCreate(trace_id=trace_id, label=PAIRWISE + side, preferred=preferred)


@page(router, "/annotate", "annotate.html", "feedback:read")
def annotate(
    view: View, reviews: int = Query(1, ge=1, le=10), skip: list[str] = Query(default_factory=list)
) -> dict[str, Any]:
    return queue(view, reviews, skip)


@action(router, "/annotate/{trace_id}", "feedback:write")
def review(
    view: View,
    trace_id: str,
    verdict: Annotated[str, Form(max_length=16)] = "",
    score: Annotated[str, Form(max_length=32)] = "",
    label: Annotated[str, Form(max_length=128)] = "",
    correction: Annotated[str, Form(max_length=1_000_000)] = "",
    comment: Annotated[str, Form(max_length=100_000)] = "",
    choice: Annotated[str, Form(max_length=16)] = "",
    reviews: Annotated[int, Form(ge=1, le=10)] = 1,
) -> Response:
    """Store one review as feedback, then answer with the next item of the queue."""
    if verdict == "skip":
        return fragment(view, "_queue_item.html", queue(view, reviews, [trace_id]))
    if choice:
        view.client.feedback.create_feedback(_pairwise(view, trace_id, choice))
        return fragment(view, "_queue_item.html", {**queue(view, reviews, []), "saved": True})
    value, name = VERDICTS.get(verdict, (None, None))
    if score:
        try:
            value = float(score)
        except ValueError:
            raise InvalidInput(
                f"score must be a number, got {score[:40]!r}", details={"field": "score"}
            ) from None
    spec = FeedbackCreate(
        trace_id=trace_id,
        score=value,
        label=label or name,
        correction=correction or None,
        comment=comment or None,
    )
    view.client.feedback.create_feedback(spec)
    return fragment(view, "_queue_item.html", {**queue(view, reviews, []), "saved": True})
