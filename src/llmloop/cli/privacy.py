"""``llmloop privacy retention|purge|erase``: keep data only as long as allowed; erase one person's data.

All of them act on the store ``get_client()`` names: the server's, with LLMLOOP_SERVER_URL.
"""

from __future__ import annotations

import click

from llmloop.cli._output import json_option, print_json, print_table
from llmloop.client import get_client


@click.group()
def privacy() -> None:
    """Retention per project, purge, and erasure of a user's data."""


@privacy.group("retention")
def retention() -> None:
    """How long each kind of data is kept per project."""


@retention.command("show")
@click.option("--project", "-p", required=True)
@json_option
def show(project: str, json_: bool) -> None:
    """Days kept per kind of data in PROJECT."""
    policy = get_client().privacy.get_retention(project)
    if json_:
        print_json(policy)
    else:
        print_table(["kind", "days"], sorted(policy.days.items()), title=f"retention of {project}")


@retention.command("set")
@click.option("--project", "-p", required=True)
@click.option("--kind", required=True, help="runs (and, as their areas land, traces, feedback, …).")
@click.option("--days", type=click.IntRange(1, None), default=None, help="Days to keep.")
@click.option("--forever", is_flag=True, help="Remove the limit.")
@json_option
def set_(project: str, kind: str, days: int | None, forever: bool, json_: bool) -> None:
    """Keep KIND data of PROJECT for --days N, or --forever."""
    if (days is None) == (not forever):
        raise click.UsageError("give exactly one of --days N or --forever")
    policy = get_client().privacy.set_retention(project, kind, None if forever else days)
    if json_:
        print_json(policy)
    else:
        click.echo(f"{project}: {policy.days or 'keep everything'}")


@privacy.command("purge")
@json_option
def purge(json_: bool) -> None:
    """Delete what is older than each project's retention allows."""
    report = get_client().privacy.purge()
    if json_:
        print_json(report)
        return
    rows = [[p, k, n] for p, kinds in sorted(report.deleted.items()) for k, n in sorted(kinds.items())]
    print_table(["project", "kind", "deleted"], rows)
    click.echo(f"{report.total} rows deleted")


@privacy.command("erase")
@click.option(
    "--user-id", required=True, help="The id as it appears in the data (run creator, trace user, …)."
)
@json_option
def erase(user_id: str, json_: bool) -> None:
    """Remove everything that names USER_ID, through every area's erase handler."""
    report = get_client().privacy.erase_subject(user_id)
    if json_:
        print_json(report)
        return
    for kind, n in sorted(report.removed.items()):
        click.echo(f"{kind}: {n} removed")
    click.echo(f"audit events anonymised: {report.audit_events_anonymised}")
    click.echo(f"artifacts removed: {report.artifacts_removed}")
