"""``llmloop pipeline run|validate|resume|status|graph|runs|schedule|unschedule|schedules``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from llmloop.cli._output import fmt_time, json_option, print_json, print_table

if TYPE_CHECKING:
    from llmloop.services.pipelines.definition import PipelineDef, StepDef
    from llmloop.services.pipelines.runner import Report
    from llmloop.services.pipelines.schemas import PipelineRun

_RUN_HELP = "Executor: local (default, LLMLOOP_EXECUTOR), ray, or ray://host:port."


@click.group()
def pipeline() -> None:
    """Declarative pipelines: steps with content-keyed caching, resume and retries, local or on Ray."""


def _report(explain: bool, quiet: bool) -> Report:
    def say(step: str, message: str) -> None:
        if quiet:
            return
        if explain or not message.startswith(("hit:", "miss:", "off:")):
            click.echo(f"{step}: {message}", err=True)

    return say


def _finish(run: PipelineRun, json_: bool) -> None:
    if json_:
        print_json(run)
    else:
        _print_steps(run)
        click.echo(f"pipeline {run.name} {run.status}: run {run.id}")
    if run.status != "finished":
        sys.exit(1)


def _print_steps(run: PipelineRun) -> None:
    rows = [
        [
            s.name,
            s.state,
            s.cache,
            None if s.duration_s is None else f"{s.duration_s:.2f}s",
            s.attempts,
            ", ".join(f"{k}={str(v)[:40]}" for k, v in s.outputs.items())
            or (s.error.splitlines()[0] if s.error else ""),
        ]
        for s in run.steps
    ]
    print_table(
        ["step", "state", "cache", "duration", "attempts", "outputs / error"],
        rows,
        title=f"pipeline {run.name}",
    )


@pipeline.command("run")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--explain", is_flag=True, help="Print each step's cache decision (hit or miss) and why.")
@click.option("--no-cache", is_flag=True, help="Run every step, reusing nothing.")
@click.option("--executor", default=None, help=_RUN_HELP)
@click.option("--parallelism", type=click.IntRange(1, 64), default=None, help="Independent steps at once.")
@json_option
def run_cmd(
    file: Path, explain: bool, no_cache: bool, executor: str | None, parallelism: int | None, json_: bool
) -> None:
    """Run the pipeline in FILE; exit 1 if a step fails (resume it with 'pipeline resume RUN')."""
    from llmloop.sdk.pipelines import pipelines

    run = pipelines.run(
        file,
        cache=not no_cache,
        executor=executor,
        parallelism=parallelism,
        report=_report(explain, False),
    )
    _finish(run, json_)


@pipeline.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def validate_cmd(file: Path, json_: bool) -> None:
    """Check FILE (kinds, wiring, types, no cycle) without running anything."""
    from llmloop.sdk.pipelines import pipelines

    defn = pipelines.load(file)
    if json_:
        print_json(defn)
    else:
        click.echo(f"{file}: pipeline {defn.name} is valid ({len(defn.steps)} steps)")


@pipeline.command("resume")
@click.argument("run_id")
@click.option("--explain", is_flag=True, help="Print each step's cache decision and why.")
@click.option("--executor", default=None, help=_RUN_HELP)
@json_option
def resume_cmd(run_id: str, explain: bool, executor: str | None, json_: bool) -> None:
    """Continue RUN_ID from its first unfinished step."""
    from llmloop.sdk.pipelines import pipelines

    _finish(pipelines.resume(run_id, executor=executor, report=_report(explain, False)), json_)


@pipeline.command("status")
@click.argument("run_id")
@json_option
def status_cmd(run_id: str, json_: bool) -> None:
    """Each step of RUN_ID: state, cache hit, duration, outputs."""
    from llmloop.sdk.pipelines import pipelines

    run = pipelines.status(run_id)
    if json_:
        print_json(run)
        return
    _print_steps(run)
    ended = fmt_time(run.ended_at)
    click.echo(
        f"pipeline {run.name} {run.status} (started {fmt_time(run.started_at)}, ended {ended}) on {run.executor}"
    )


@pipeline.command("runs")
@click.option("--name", default=None, help="Only runs of this pipeline.")
@click.option("--project", "-p", default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@json_option
def runs_cmd(name: str | None, project: str | None, limit: int, json_: bool) -> None:
    """Pipeline runs, newest first."""
    from llmloop.client import get_client

    page = get_client().pipelines.list_runs(project=project, name=name, limit=limit)
    if json_:
        print_json(page)
        return
    rows = [
        [r.id, r.name, r.status, sum(s.cache == "hit" for s in r.steps), len(r.steps), fmt_time(r.started_at)]
        for r in page.items
    ]
    print_table(["run", "pipeline", "status", "cache hits", "steps", "started"], rows)


@pipeline.command("graph")
@click.argument("file_or_run")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write an SVG here.")
@json_option
def graph_cmd(file_or_run: str, output: Path | None, json_: bool) -> None:
    """Draw the steps of a pipeline FILE (or of a run id, coloured by state)."""
    from llmloop.services.pipelines.graph import depths, to_svg, tree_lines

    defn, states = _definition(file_or_run)
    if output is not None:
        output.write_text(to_svg(defn, states), encoding="utf-8")
    if json_:
        level = depths(defn)
        print_json(
            {
                "name": defn.name,
                "steps": [
                    {"name": s.name, "kind": s.kind, "depth": level[s.name], "after": sorted(_deps(s)),
                     "state": (states or {}).get(s.name)}
                    for s in defn.steps
                ],
            }
        )  # fmt: skip
    else:
        click.echo("\n".join(tree_lines(defn, states)))
        if output is not None:
            click.echo(f"wrote {output}", err=True)


def _deps(step: StepDef) -> set[str]:
    from llmloop.services.pipelines.definition import dependencies

    return dependencies(step)


def _definition(file_or_run: str) -> tuple[PipelineDef, dict[str, str] | None]:
    from llmloop.services.pipelines.definition import load_definition

    if Path(file_or_run).is_file():
        return load_definition(file_or_run), None
    from llmloop.client import get_client

    api = get_client().pipelines
    run = api.get_run(file_or_run)
    defn = api.definition(run.id)
    return defn, {s.name: s.state for s in run.steps}


@pipeline.command("schedule")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--cron", required=True, help="Five crontab fields in UTC, e.g. '0 3 * * *'.")
@click.option("--name", default=None, help="Schedule name (default: the pipeline's name).")
@click.option("--project", "-p", default=None)
@click.option("--no-cache", is_flag=True, help="Each fire runs every step.")
@json_option
def schedule_cmd(
    file: Path, cron: str, name: str | None, project: str | None, no_cache: bool, json_: bool
) -> None:
    """Run FILE on a cron schedule inside 'llmloop serve'."""
    from llmloop.client import get_client
    from llmloop.services.pipelines.definition import load_definition
    from llmloop.services.schedules.schemas import ScheduleCreate

    defn = load_definition(file)  # refuse a bad file now, not at 3 a.m.
    spec = ScheduleCreate(
        name=name or defn.name,
        project=project or defn.project,
        kind="pipeline",
        target=str(file.resolve()),
        cron=cron,
        options={"no_cache": True} if no_cache else {},
    )
    made = get_client().schedules.create(spec)
    if json_:
        print_json(made)
    else:
        click.echo(f"scheduled {made.name} ({made.cron} UTC), next run {fmt_time(made.next_run_at)}")


@pipeline.command("unschedule")
@click.argument("name")
@click.option("--project", "-p", default=None)
def unschedule_cmd(name: str, project: str | None) -> None:
    """Delete the schedule NAME."""
    from llmloop.client import get_client

    get_client().schedules.delete(name, project=project)
    click.echo(f"unscheduled {name}")


@pipeline.command("schedules")
@click.option("--project", "-p", default=None)
@json_option
def schedules_cmd(project: str | None, json_: bool) -> None:
    """Stored schedules, with their next and last runs."""
    from llmloop.client import get_client

    page = get_client().schedules.list(project=project)
    if json_:
        print_json(page)
        return
    rows = [
        [s.name, s.kind, s.cron, s.target, fmt_time(s.next_run_at), fmt_time(s.last_run_at), s.last_status]
        for s in page.items
    ]
    print_table(["name", "kind", "cron", "target", "next run", "last run", "last status"], rows)
