"""The llmloop run a training writes to: params, buffered metrics, tags, artifacts and lineage edges.

Training is a service, so it talks to the tracking *service* (not the SDK): metrics go through the
same ``MetricBuffer`` the SDK uses, written in batches by a background thread, so logging every
step costs microseconds and a SIGKILL loses at most the last flush interval.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeGuard

from llmloop.context import Context
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.buffer import MetricBuffer
from llmloop.services.tracking.environment import capture_environment
from llmloop.services.tracking.schemas import MetricPoint, Run, RunArtifact, RunBatch, RunCreate, RunStatus
from llmloop.store.lineage import Edge, add_edge


class RunRecorder:
    def __init__(self, ctx: Context, run: Run) -> None:
        self.ctx = ctx
        self.run = run
        self.id = run.id
        self.project = run.project
        self._buffer = MetricBuffer(self._write, interval_s=ctx.settings.flush_interval_s)
        self.ended = False

    @classmethod
    def start(
        cls,
        ctx: Context,
        *,
        project: str,
        name: str,
        params: dict[str, Any],
        tags: dict[str, str],
        kind: str = "train",
        parent_id: str | None = None,
    ) -> RunRecorder:
        spec = RunCreate(
            project=project,
            name=name,
            kind=kind,
            parent_id=parent_id,
            params={k: v for k, v in params.items() if v is not None},
            tags=tags,
            env=capture_environment(),
        )
        return cls(ctx, tracking.create_run(ctx, spec=spec))

    def _write(self, batch: RunBatch) -> None:
        tracking.log_batch(self.ctx, run_id=self.id, batch=batch)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        t = time.time()
        for key, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            self._buffer.add_point((key, float(value), step, t))

    def set_tags(self, tags: dict[str, str]) -> None:
        self._buffer.add_tags({k: str(v) for k, v in tags.items()})

    def log_file(self, path: Path, name: str) -> RunArtifact:
        return tracking.log_artifact(self.ctx, run_id=self.id, path=path, name=name)

    def log_folder(
        self, folder: Path, prefix: str, *, only: Iterable[str] | None = None
    ) -> list[RunArtifact]:
        """Every file in ``folder`` (not sub-folders) as ``prefix/<file>``; ``only`` keeps named files."""
        keep = set(only) if only is not None else None
        out = []
        for f in sorted(folder.iterdir()):
            if f.is_file() and (keep is None or f.name in keep):
                out.append(self.log_file(f, f"{prefix}/{f.name}"))
        return out

    def add_lineage(self, edges: Iterable[Edge]) -> None:
        with self.ctx.db.session() as s:
            for edge in edges:
                add_edge(s, edge)

    def flush(self) -> None:
        self._buffer.flush()

    def close(self) -> None:
        """Write what is buffered and stop, leaving the run open (a data-parallel rank 0: the driver ends it)."""
        self._buffer.close()

    def end(self, status: RunStatus) -> None:
        if self.ended:
            return
        self.ended = True
        self._buffer.close(end_status=status)

    def metric_history(self, key: str) -> list[MetricPoint]:
        self.flush()
        return tracking.metric_history(self.ctx, run_id=self.id, key=key)


def finite(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def run_edge(src_type: str, src_id: str, relation: str, run_id: str) -> Edge:
    return Edge(src_type, src_id, relation, "run", run_id)


def output_edge(run_id: str, relation: str, dst_type: str, dst_id: str) -> Edge:
    return Edge("run", run_id, relation, dst_type, dst_id)
