"""``llmloop admin init``: turn a single-user store (local, or the server's with LLMLOOP_SERVER_URL) into an
authenticated one."""

from __future__ import annotations

import click

from llmloop.cli._output import json_option, print_json
from llmloop.cli.users import read_password
from llmloop.client import get_client


@click.group()
def admin() -> None:
    """Set up authentication."""


@admin.command("init")
@click.option("--user", "name", default="admin", show_default=True, help="Name of the first admin.")
@click.option("--password-stdin", is_flag=True, help="Read a UI password from stdin (else: key only).")
@json_option
def init(name: str, password_stdin: bool, json_: bool) -> None:
    """Create the first admin and print its API key once. From then on every API call needs a key.

    With LLMLOOP_SERVER_URL set it initialises that server's store, which answers only while it has
    no user yet (and, with LLMLOOP_AUTH_REQUIRED, not at all: run it on the server's machine then).
    """
    password = read_password() if password_stdin else None
    result = get_client().users.bootstrap_admin(name, password)
    user, key = result.user, result.key
    if json_:
        print_json(result)
        return
    click.echo(f"created admin {user.name!r} (admin in every project); authentication is now on")
    click.echo("API key (shown once; it is stored only as a hash, so keep it now):")
    click.echo(f"  {key.key}")
    click.echo("use it with:  export LLMLOOP_API_KEY=<key>   or   Authorization: Bearer <key>")
