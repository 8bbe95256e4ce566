"""/api/v1/feedback: attach human feedback to a trace the gateway returned in ``x-llmloop-trace-id``,
list it, and export it as training rows (which the caller writes to its own file)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from fastapi import APIRouter

from llmloop.server.deps import CtxDep
from llmloop.server.routes import mount
from llmloop.services.observe.tracer import writer_for
from llmloop.services.serve import feedback, feedback_export
from llmloop.services.serve.schemas import (
    Feedback,
    FeedbackCreate,
    FeedbackExport,
    FeedbackExportRequest,
    FeedbackList,
)

router = APIRouter(prefix="/feedback", tags=["feedback"])


@mount(router, "feedback.create")
async def create_feedback(ctx: CtxDep, spec: FeedbackCreate) -> Feedback:
    # The trace may still sit in this server's span queue: write it first so the feedback can find it.
    await asyncio.to_thread(writer_for(ctx).flush)
    return await asyncio.to_thread(feedback.create_feedback, ctx, spec=spec)


@mount(router, "feedback.list")
def list_feedback(ctx: CtxDep, trace_id: str | None = None, project: str | None = None) -> FeedbackList:
    return FeedbackList(items=feedback.list_feedback(ctx, trace_id=trace_id, project=project))


@mount(router, "feedback.export")
def export_feedback(ctx: CtxDep, request: FeedbackExportRequest) -> FeedbackExport:
    """The rows; with ``dataset``, registered here first from a file that lives only for the call."""
    rows, trace_ids = feedback_export.export_rows(
        ctx, kind=request.kind, project=request.project, approved_min_score=request.approved_min_score
    )
    version = None
    if request.dataset is not None:
        with tempfile.TemporaryDirectory(prefix="llmloop-export-") as tmp:
            version = feedback_export.register_export(
                ctx,
                kind=request.kind,
                rows=rows,
                trace_ids=trace_ids,
                out=Path(tmp) / f"{request.kind}.jsonl",
                dataset=request.dataset,
                project=request.project,
            ).dataset_version
    return FeedbackExport(
        kind=request.kind, rows=rows, trace_ids=sorted(set(trace_ids)), dataset_version=version
    )
