"""``llmloop server`` / ``llmloop serve``: the API (and, as they land, gateway and UI) in one process."""

from __future__ import annotations

import ipaddress

import click

from llmloop.errors import InvalidInput


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind; loopback unless auth is set up."
)
@click.option("--port", default=7788, show_default=True, type=click.IntRange(1, 65535))
@click.option("--log-level", default="warning", type=click.Choice(["debug", "info", "warning", "error"]))
def server(host: str, port: int, log_level: str) -> None:
    """Serve /api/v1 on HOST:PORT (127.0.0.1:7788 by default)."""
    if not is_loopback(host):
        raise InvalidInput(
            f"refusing to bind {host}: without authentication configured llmloop serves only loopback addresses. "
            "Bind 127.0.0.1 and put an authenticating reverse proxy in front.",
            details={"flag": "--host"},
        )
    import uvicorn

    from llmloop.server.app import create_app

    click.echo(f"llmloop serving http://{host}:{port}/api/v1 (docs at /api/v1/docs)", err=True)
    uvicorn.run(create_app(), host=host, port=port, log_level=log_level, access_log=False)
