"""``llmloop config show``: the settings of this process, never a server's (so it stays local)."""

from __future__ import annotations

import click

from llmloop.cli._output import json_option, print_json, print_table
from llmloop.config import get_settings


@click.group()
def config() -> None:
    """Settings read from LLMLOOP_* variables."""


@config.command("show")
@json_option
def show(json_: bool) -> None:
    """Print the resolved settings of this machine; secrets and passwords masked.

    These are the settings this CLI runs with (LLMLOOP_SERVER_URL included), not those of the
    server it may talk to: a server's settings are its own process's environment.
    """
    values = get_settings().public_dict()
    if json_:
        print_json(values)
    else:
        print_table(["setting", "value"], sorted(values.items()))
