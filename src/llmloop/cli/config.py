"""``llmloop config show``."""

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
    """Print the resolved settings; secrets and passwords masked."""
    values = get_settings().public_dict()
    if json_:
        print_json(values)
    else:
        print_table(["setting", "value"], sorted(values.items()))
