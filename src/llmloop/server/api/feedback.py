"""/api/v1/feedback: attach human feedback to a trace the gateway returned in ``x-llmloop-trace-id``."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from llmloop.server.auth import permission
from llmloop.server.deps import CtxDep
from llmloop.services.observe.tracer import writer_for
from llmloop.services.serve import feedback
from llmloop.services.serve.schemas import Feedback, FeedbackCreate

router = APIRouter(prefix="/feedback", tags=["feedback"])


@router.post("", response_model=Feedback, status_code=201, openapi_extra=permission("feedback:write"))
async def create_feedback(ctx: CtxDep, spec: FeedbackCreate, request: Request) -> Feedback:
    # The trace may still sit in this server's span queue: write it first so the feedback can find it.
    await asyncio.to_thread(writer_for(ctx).flush)
    return await asyncio.to_thread(feedback.create_feedback, ctx, spec=spec)


@router.get("", openapi_extra=permission("feedback:read"))
def list_feedback(
    ctx: CtxDep, trace_id: str | None = None, project: str | None = None
) -> dict[str, list[Feedback]]:
    return {"items": feedback.list_feedback(ctx, trace_id=trace_id, project=project)}
