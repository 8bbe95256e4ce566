"""The ``monitor`` schedule kind: online evaluation, one pass over a project's monitors, then its triggers.

This is how drift turns into the next turn of the loop inside ``llmloop serve``: the scheduler fires
the schedule, the monitors measure their windows (alerts fire or resolve), and each trigger of the
project decides whether to start its pipeline under its cool-down and budget. Online evaluation
scores its sampled traces first, so the monitors that window ``online:…`` scores see this pass's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmloop.services.monitor import online, triggers
from llmloop.services.monitor.service import run_monitors

if TYPE_CHECKING:
    from llmloop.context import Context
    from llmloop.services.monitor.schemas import TriggerDecision
    from llmloop.services.schedules.schemas import Schedule


def _started(decision: TriggerDecision) -> bool:
    return decision.action == "start" and decision.outcome.startswith("started")


def run_scheduled_monitors(ctx: Context, schedule: Schedule) -> str:
    """``schedule.target`` names one monitor, or ``*`` for all of the project's."""
    monitor = None if schedule.target in ("", "*") else schedule.target
    scored = online.run_online(ctx, project=schedule.project)
    n_scores = sum(sum(p.scored.values()) for p in scored.passes)
    run = run_monitors(ctx, project=schedule.project, monitor=monitor)
    started = [
        t.name
        for t in triggers.list_triggers(ctx, project=schedule.project)
        if _started(triggers.evaluate(ctx, project=schedule.project, name=t.name, dry_run=False))
    ]
    return (
        f"{len(run.results)} monitor(s), {len(run.fired)} alert(s) fired, {len(run.resolved)} resolved; "
        f"{n_scores} online score(s); "
        f"triggers started: {', '.join(started) or 'none'}"
    )
