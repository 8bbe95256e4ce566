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
@json_option
def verify(json_: bool) -> None:
    """Re-hash every artifact; exit 1 and list the damaged ones if any do not match."""
    report = get_client().store.verify()
    if json_:
        print_json(report)
    else:
        click.echo(f"checked {report.checked} artifacts ({report.bytes_checked} bytes)")
        for sha in report.corrupted:
            click.echo(f"CORRUPTED {sha}")
        click.echo("ok" if report.ok else f"{len(report.corrupted)} corrupted")
    if not report.ok:
        sys.exit(1)
