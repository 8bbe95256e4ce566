"""``llmloop secrets set|list|delete``: upstream credentials, stored encrypted (on the server, with
LLMLOOP_SERVER_URL, under its master key), never printed."""

from __future__ import annotations

import sys

import click

from llmloop.cli._output import fmt_time, json_option, print_json, print_table
from llmloop.client import get_client
from llmloop.errors import InvalidInput


@click.group()
def secrets() -> None:
    """Upstream API keys and other credentials (encrypted with the master key)."""


@secrets.command("set")
@click.argument("project")
@click.argument("name")
def set_(project: str, name: str) -> None:
    """Store NAME for PROJECT ('*' for all); the value is read from stdin, never from argv."""
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise InvalidInput(
            "no value on stdin (e.g. `printenv OPENAI_API_KEY | llmloop secrets set travel openai`)"
        )
    get_client().secrets.set_secret(project, name, value)
    click.echo(f"stored secret {name!r} for {project!r} (encrypted)")


@secrets.command("list")
@click.argument("project")
@json_option
def list_(project: str, json_: bool) -> None:
    """Names and dates only."""
    items = get_client().secrets.list_secrets(project)
    if json_:
        print_json(items)
    else:
        print_table(
            ["name", "value", "updated", "by"],
            [[s.name, "****", fmt_time(s.updated_at), s.created_by] for s in items],
        )


@secrets.command("delete")
@click.argument("project")
@click.argument("name")
def delete(project: str, name: str) -> None:
    """Remove NAME of PROJECT."""
    get_client().secrets.delete_secret(project, name)
    click.echo(f"deleted secret {name!r} of {project!r}")
