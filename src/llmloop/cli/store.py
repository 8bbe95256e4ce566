"""``llmloop store verify``: re-hash the artifacts of the store ``get_client()`` names."""

from __future__ import annotations

import sys

import click

from llmloop.cli._output import json_option, print_json
from llmloop.client import get_client


@click.group()
def store() -> None:
    """The metadata database and the artifact store."""


@store.command("verify")
@click.option(
    "--repair",
    is_flag=True,
    help="Delete upload temp files whose writer is gone and blobs nothing refers to (older than an hour).",
)
@json_option
def verify(repair: bool, json_: bool) -> None:
    """Re-hash every artifact and list leftovers of crashes; exit 1 if any artifact does not match."""
    client = get_client()
    report = client.store.repair() if repair else client.store.verify()
    if json_:
        print_json(report)
    else:
        click.echo(f"checked {report.checked} artifacts ({report.bytes_checked} bytes)")
        for sha in report.corrupted:
            click.echo(f"CORRUPTED {sha}")
        for path in report.temp_files:
            click.echo(f"TEMP FILE {path}")
        for sha in report.orphans:
            click.echo(f"ORPHAN {sha}")
        for item in report.removed:
            click.echo(f"REMOVED {item}")
        click.echo("ok" if report.ok else f"{len(report.corrupted)} corrupted")
    if not report.ok:
        sys.exit(1)
