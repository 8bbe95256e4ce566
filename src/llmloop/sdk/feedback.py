"""``ll.feedback(trace_id, score=…, correction=…)``: human feedback on a trace, through ``get_client().feedback``."""

from __future__ import annotations

from llmloop.services.serve.schemas import Feedback, FeedbackCreate


def feedback(
    trace_id: str,
    *,
    score: float | None = None,
    label: str | None = None,
    comment: str | None = None,
    correction: str | None = None,
    preferred: str | None = None,
) -> Feedback:
    """Attach feedback to ``trace_id`` (the ``x-llmloop-trace-id`` header of a gateway response)."""
    from llmloop.client import get_client

    spec = FeedbackCreate(
        trace_id=trace_id,
        score=score,
        label=label,
        comment=comment,
        correction=correction,
        preferred=preferred,
    )
    return get_client().feedback.create_feedback(spec)
