"""``ll.feedback(trace_id, score=…, correction=…)``: human feedback on a trace, locally or on a server."""

from __future__ import annotations

from llmloop.config import get_settings
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
    spec = FeedbackCreate(
        trace_id=trace_id,
        score=score,
        label=label,
        comment=comment,
        correction=correction,
        preferred=preferred,
    )
    settings = get_settings()
    if settings.server_url:
        from llmloop.sdk.remote import RemoteClient

        return Feedback.model_validate(
            RemoteClient(settings)._call("POST", "/feedback", content=spec.model_dump_json())
        )
    from llmloop.context import local_context
    from llmloop.services.observe.tracer import flush
    from llmloop.services.serve.feedback import create_feedback

    flush()
    return create_feedback(local_context(settings), spec=spec)
