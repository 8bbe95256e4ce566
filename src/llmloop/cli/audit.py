"""``llmloop audit verify|list``: check the hash chain; read who did what (the server's, with LLMLOOP_SERVER_URL)."""

from __future__ import annotations

import sys

import click

from llmloop.cli._durations import parse_since
from llmloop.cli._output import fmt_time, json_option, print_json, print_table
from llmloop.client import get_client


@click.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@json_option
def verify(json_: bool) -> None:
    """Re-hash the whole chain; exit 1 naming the first bad row after any edit or deletion."""
    report = get_client().audit.verify_chain()
    if json_:
        print_json(report)
    elif report.ok:
        click.echo(f"ok: {report.checked} events, chain intact; head {report.head_seq} {report.head_hash}")
    else:
        click.echo(
            f"BROKEN at row {report.first_bad_seq}: {report.reason} ({report.checked} rows intact before it)"
        )
    if not report.ok:
        sys.exit(1)


@audit.command("list")
@click.option("--actor", default=None, help="Only events by this identity.")
@click.option("--action", default=None, help="e.g. keys.create, or a prefix: 'runs.*'.")
@click.option("--project", "-p", default=None, help="Only events in this project.")
@click.option("--since", default=None, help="24h, 7d, 2024-05-01 or unix seconds.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@json_option
def list_(
    actor: str | None, action: str | None, project: str | None, since: str | None, limit: int, json_: bool
) -> None:
    """Events, newest first."""
    items = get_client().audit.list_events(
        actor=actor,
        action=action,
        project=project,
        since=parse_since(since) if since else None,
        limit=limit,
    )
    if json_:
        print_json(items)
        return
    rows = [[e.seq, fmt_time(e.ts), e.actor, e.action, e.target, e.project, e.via] for e in items]
    print_table(["seq", "time", "actor", "action", "target", "project", "via"], rows)
