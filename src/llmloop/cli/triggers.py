"""``llmloop triggers list|dry-run|fire``: what would start the next turn of the loop, and why."""

from __future__ import annotations

import click

from llmloop.cli._output import fmt_time, json_option, print_json, print_table

_project = click.option("--project", "-p", default="default", show_default=True)


@click.group()
def triggers() -> None:
    """Triggers that start a pipeline when drift, feedback, time or a score drop call for it."""


@triggers.command("list")
@_project
@json_option
def list_cmd(project: str, json_: bool) -> None:
    """The project's triggers."""
    from llmloop.client import get_client

    items = get_client().monitoring.list_triggers(project)
    if json_:
        print_json({"items": items})
        return
    rows = [[t.name, t.pipeline, f"{t.cooldown_s:g}s", f"{t.budget.max_starts}/{t.budget.period_s:g}s",
             fmt_time(t.last_started_at)] for t in items]  # fmt: skip
    print_table(["trigger", "pipeline", "cool-down", "budget", "last start"], rows)


def _show(decision: object, json_: bool) -> None:
    from llmloop.services.monitor.schemas import TriggerDecision

    assert isinstance(decision, TriggerDecision)
    if json_:
        print_json(decision)
        return
    verb = "would start" if decision.dry_run else "started" if decision.action == "start" else "waits"
    if decision.action == "wait":
        verb = "would wait" if decision.dry_run else "waits"
    click.echo(f"{decision.trigger}: {verb} ({decision.pipeline})")
    for r in decision.reasons:
        click.echo(f"  {r.condition}: {'holds' if r.holds else 'does not hold'}: {r.why}")
    for b in decision.blocked_by:
        click.echo(f"  held back by {b}")
    if decision.outcome:
        click.echo(f"  {decision.outcome}")


@triggers.command("dry-run")
@click.argument("name")
@_project
@json_option
def dry_run_cmd(name: str, project: str, json_: bool) -> None:
    """Say what trigger NAME would do now, and why; change nothing."""
    from llmloop.sdk.monitoring import monitoring

    _show(monitoring.dry_run(name, project=project), json_)


@triggers.command("fire")
@click.argument("name")
@_project
@json_option
def fire_cmd(name: str, project: str, json_: bool) -> None:
    """Evaluate trigger NAME now and start its pipeline if its conditions, cool-down and budget allow."""
    from llmloop.client import get_client
    from llmloop.services.monitor.schemas import TriggerRunRequest

    _show(get_client().monitoring.fire(name, TriggerRunRequest(project=project)), json_)
