"""The ``pipeline`` schedule kind: run the pipeline file a schedule names, through the cache."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmloop.services.pipelines.definition import load_definition
from llmloop.services.pipelines.runner import RunOptions, run_pipeline

if TYPE_CHECKING:
    from llmloop.context import Context
    from llmloop.services.schedules.schemas import Schedule


def run_scheduled_pipeline(ctx: Context, schedule: Schedule) -> str:
    defn = load_definition(schedule.target)
    if defn.project is None:
        defn = defn.model_copy(update={"project": schedule.project})
    run = run_pipeline(
        ctx, defn=defn, options=RunOptions(use_cache=not schedule.options.get("no_cache", False))
    )
    return f"{run.status} {run.id}"


def start_triggered_pipeline(ctx: Context, pipeline: str, trigger: str) -> str:
    """What a monitoring trigger runs: the pipeline file, through the cache; returns the run's status and id."""
    del trigger  # the trigger's own event records which trigger started the run
    run = run_pipeline(ctx, defn=load_definition(pipeline), options=RunOptions())
    return f"{run.status} {run.id}"
