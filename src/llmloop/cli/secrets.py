"""``llmloop secrets set|list|delete``: upstream credentials, stored encrypted, never printed."""

from __future__ import annotations

import sys

import click

from llmloop.cli._output import fmt_time, json_option, print_json, print_table
from llmloop.context import local_context
from llmloop.errors import InvalidInput
from llmloop.security import vault


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
    vault.set_secret(local_context(), project=project, name=name, value=value)
    click.echo(f"stored secret {name!r} for {project!r} (encrypted)")


@secrets.command("list")
@click.argument("project")
@json_option
def list_(project: str, json_: bool) -> None:
    """Names and dates only."""
    items = vault.list_secrets(local_context(), project=project)
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
    vault.delete_secret(local_context(), project=project, name=name)
    click.echo(f"deleted secret {name!r} of {project!r}")
