"""``llmloop admin init``: turn the local single-user store into an authenticated one."""

from __future__ import annotations

import click

from llmloop.cli._output import json_option, print_json
from llmloop.cli.users import read_password
from llmloop.context import local_context
from llmloop.security import users


@click.group()
def admin() -> None:
    """Set up authentication."""


@admin.command("init")
@click.option("--user", "name", default="admin", show_default=True, help="Name of the first admin.")
@click.option("--password-stdin", is_flag=True, help="Read a UI password from stdin (else: key only).")
@json_option
def init(name: str, password_stdin: bool, json_: bool) -> None:
    """Create the first admin and print its API key once. From then on every API call needs a key."""
    password = read_password() if password_stdin else None
    user, key = users.bootstrap_admin(local_context(), name=name, password=password)
    if json_:
        print_json({"user": user, "key": key})
        return
    click.echo(f"created admin {user.name!r} (admin in every project); authentication is now on")
    click.echo("API key (shown once; it is stored only as a hash, so keep it now):")
    click.echo(f"  {key.key}")
    click.echo("use it with:  export LLMLOOP_API_KEY=<key>   or   Authorization: Bearer <key>")
