"""``client.feedback``: human feedback on traces, and its export to training rows.

An export's rows are computed where the store is (the server, remotely) and written to the
caller's file here, so ``llmloop feedback export -o rows.jsonl`` lands on the caller's disk
either way; a dataset it registers is registered in that same store.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from llmloop.client.routes import Route
from llmloop.services.serve import schemas
from llmloop.services.serve.schemas import FeedbackCreate, FeedbackExport, FeedbackExportRequest, FeedbackList

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context
    from llmloop.services.serve.feedback_export import ExportResult

ROUTES = [
    Route(
        "feedback.create", "POST", "/feedback", "feedback:write", schemas.Feedback, FeedbackCreate, status=201
    ),
    Route("feedback.list", "GET", "/feedback", "feedback:read", FeedbackList),
    Route(
        "feedback.export", "POST", "/feedback/export", "feedback:read", FeedbackExport, FeedbackExportRequest
    ),
]


class Feedback(Protocol):
    def create_feedback(self, spec: FeedbackCreate) -> schemas.Feedback: ...
    def list_feedback(
        self, trace_id: str | None = None, project: str | None = None
    ) -> list[schemas.Feedback]: ...
    def export(self, request: FeedbackExportRequest, out: Path) -> ExportResult: ...


class LocalFeedback:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def create_feedback(self, spec: FeedbackCreate) -> schemas.Feedback:
        from llmloop.services.observe.tracer import flush
        from llmloop.services.serve.feedback import create_feedback

        flush()  # the trace may still sit in this process's span queue
        return create_feedback(self.ctx, spec=spec)

    def list_feedback(
        self, trace_id: str | None = None, project: str | None = None
    ) -> list[schemas.Feedback]:
        from llmloop.services.serve.feedback import list_feedback

        return list_feedback(self.ctx, trace_id=trace_id, project=project)

    def export(self, request: FeedbackExportRequest, out: Path) -> ExportResult:
        from llmloop.services.serve.feedback_export import export_feedback

        return export_feedback(
            self.ctx,
            kind=request.kind,
            out=out,
            project=request.project,
            dataset=request.dataset,
            approved_min_score=request.approved_min_score,
        )


class RemoteFeedback:
    def __init__(self, http: Http) -> None:
        self.http = http

    def create_feedback(self, spec: FeedbackCreate) -> schemas.Feedback:
        out: schemas.Feedback = self.http.call("feedback.create", body=spec)
        return out

    def list_feedback(
        self, trace_id: str | None = None, project: str | None = None
    ) -> list[schemas.Feedback]:
        page: FeedbackList = self.http.call("feedback.list", query={"trace_id": trace_id, "project": project})
        return page.items

    def export(self, request: FeedbackExportRequest, out: Path) -> ExportResult:
        from llmloop.services.serve.feedback_export import ExportResult

        got: FeedbackExport = self.http.call("feedback.export", body=request)
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                for row in got.rows:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return ExportResult(
            kind=got.kind,
            path=str(out),
            rows=len(got.rows),
            trace_ids=got.trace_ids,
            dataset_version=got.dataset_version,
        )
