"""The scheduler inside ``llmloop serve``: APScheduler's BackgroundScheduler over the stored schedules.

``Scheduler(ctx).start()`` adds one cron job per stored schedule and a sync job that re-reads
the store every ``SYNC_S`` seconds, so ``llmloop pipeline schedule`` from another process (or
another replica's API) takes effect without a restart. A job runs at most once at a time
(``max_instances=1``) and missed fires coalesce into one, so a slow pipeline never piles up.
Each firing is recorded on its schedule (``last_run_at``, ``last_status``, ``last_error``).
"""

from __future__ import annotations

import logging
from typing import Any

from llmloop.context import Context
from llmloop.services.schedules import service
from llmloop.services.schedules.jobs import job_kind

SYNC_S = 30.0
log = logging.getLogger("llmloop.schedules")


class Scheduler:
    def __init__(self, ctx: Context, *, sync_s: float = SYNC_S) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.ctx = ctx
        self.sync_s = sync_s
        self._aps: Any = BackgroundScheduler(timezone="UTC")
        self._crons: dict[str, str] = {}  # schedule id -> cron it is scheduled with

    def start(self) -> None:
        self.sync()
        self._aps.add_job(self.sync, "interval", seconds=self.sync_s, id="llmloop-sync", coalesce=True)
        self._aps.start()

    def shutdown(self) -> None:
        if self._aps.running:
            self._aps.shutdown(wait=False)

    def sync(self) -> None:
        """Make the jobs match the stored schedules: add new ones, drop deleted ones, follow cron edits."""
        wanted = {s.id: s.cron for s in service.all_schedules(self.ctx)}
        for sid in [sid for sid in self._crons if wanted.get(sid) != self._crons[sid]]:
            self._aps.remove_job(sid)
            del self._crons[sid]
        for sid, cron in wanted.items():
            if sid not in self._crons:
                self._aps.add_job(
                    self.fire, service.cron_trigger(cron), args=[sid], id=sid, max_instances=1, coalesce=True
                )
                self._crons[sid] = cron

    def jobs(self) -> dict[str, str]:
        return dict(self._crons)

    def fire(self, schedule_id: str) -> None:
        """Run one schedule now, recording the outcome; a failing job never takes the scheduler down."""
        schedule = service.get_schedule(self.ctx, schedule_id=schedule_id)
        if schedule is None:
            return
        try:
            result = job_kind(schedule.kind)(self.ctx, schedule)
        except Exception as e:  # recorded on the schedule and logged; the next fire tries again
            log.warning("schedule %s (%s) failed: %s", schedule.name, schedule.kind, type(e).__name__)
            service.record_fire(
                self.ctx, schedule_id=schedule_id, status="failed", error=f"{type(e).__name__}: {e}"
            )
            return
        log.info("schedule %s (%s): %s", schedule.name, schedule.kind, result)
        service.record_fire(self.ctx, schedule_id=schedule_id, status="ok")
