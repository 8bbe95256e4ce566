"""``llmloop alerts list|rules|ack|silence``: what fired, the rules, acknowledging and silencing."""

from __future__ import annotations

import click

from llmloop.cli._output import fmt_time, json_option, print_json, print_table

_project = click.option("--project", "-p", default="default", show_default=True)


@click.group()
def alerts() -> None:
    """Alerts raised by monitor rules."""


@alerts.command("list")
@_project
@click.option("--status", type=click.Choice(["firing", "resolved"]), default=None)
@json_option
def list_cmd(project: str, status: str | None, json_: bool) -> None:
    """Alerts, newest first, with their notifications' state."""
    from llmloop.client import get_client

    items = get_client().monitoring.list_alerts(project, status)
    if json_:
        print_json({"items": items})
        return
    rows = [
        [a.id[:12], a.rule, a.severity, a.status, "yes" if a.acked_at else "", fmt_time(a.fired_at), a.message[:60],
         ",".join(n.status for n in a.notifications)]
        for a in items
    ]  # fmt: skip
    print_table(["alert", "rule", "severity", "status", "acked", "fired", "message", "notified"], rows)


@alerts.command("rules")
@_project
@json_option
def rules_cmd(project: str, json_: bool) -> None:
    """The project's alert rules."""
    from llmloop.client import get_client

    items = get_client().monitoring.list_rules(project)
    if json_:
        print_json({"items": items})
        return
    rows = []
    for r in items:
        cond = ("drifted" if r.drifted else f"p < {r.p_value_below:g}" if r.p_value_below is not None
                else f"> {r.above:g}" if r.above is not None else f"< {r.below:g}")  # fmt: skip
        rows.append([r.name, r.monitor, cond, f"{r.for_s:g}s", r.severity, fmt_time(r.silenced_until)])
    print_table(["rule", "monitor", "condition", "for", "severity", "silenced until"], rows)


@alerts.command("ack")
@click.argument("alert_id")
@json_option
def ack_cmd(alert_id: str, json_: bool) -> None:
    """Acknowledge ALERT_ID (someone is on it)."""
    from llmloop.sdk.monitoring import monitoring

    a = monitoring.ack(alert_id)
    if json_:
        print_json(a)
    else:
        click.echo(f"alert {a.id} acknowledged by {a.acked_by}")


@alerts.command("silence")
@click.argument("rule")
@click.option("--for", "for_", required=True, help="How long: 30m, 4h, 2d; 0 lifts the silence.")
@_project
@json_option
def silence_cmd(rule: str, for_: str, project: str, json_: bool) -> None:
    """Send no notifications from RULE for a while (its alerts are still recorded)."""
    from llmloop.cli._durations import parse_duration
    from llmloop.sdk.monitoring import monitoring

    seconds = 0.0 if for_.strip() == "0" else parse_duration(for_, flag="--for")
    r = monitoring.silence(rule, seconds, project=project)
    if json_:
        print_json(r)
    elif r.silenced_until is None:
        click.echo(f"rule {r.name} is not silenced")
    else:
        click.echo(f"rule {r.name} silenced until {fmt_time(r.silenced_until)}")
