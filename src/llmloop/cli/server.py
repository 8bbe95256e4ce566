"""``llmloop server`` / ``llmloop serve``: the API (and, as they land, gateway and UI) in one process.

Loopback by default. Any other address needs authentication configured first (a user exists,
from ``llmloop admin init``, or ``LLMLOOP_AUTH_REQUIRED=1``): without it the server would
hand the local admin's rights to the network, so it refuses to start.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from llmloop.errors import InvalidInput


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str) -> None:
    """Refuse a non-loopback bind unless auth is configured; one line saying how to fix it."""
    if is_loopback(host):
        return
    from llmloop.context import local_context
    from llmloop.security.auth import auth_enabled

    if not auth_enabled(local_context().db):
        raise InvalidInput(
            f"refusing to bind {host}: authentication is not configured, so anyone who can reach the server "
            "would act as admin. Run `llmloop admin init` to create the first admin and an API key "
            "(or bind 127.0.0.1).",
            details={"flag": "--host"},
        )


@click.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind; loopback unless auth is set up."
)
@click.option("--port", default=7788, show_default=True, type=click.IntRange(1, 65535))
@click.option("--log-level", default="warning", type=click.Choice(["debug", "info", "warning", "error"]))
@click.option(
    "--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="PEM certificate."
)
@click.option(
    "--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="PEM private key."
)
def server(host: str, port: int, log_level: str, tls_cert: Path | None, tls_key: Path | None) -> None:
    """Serve the web UI at / and the API at /api/v1 on HOST:PORT (127.0.0.1:7788 by default)."""
    if (tls_cert is None) != (tls_key is None):
        raise InvalidInput("give both --tls-cert and --tls-key, or neither", details={"flag": "--tls-cert"})
    check_bind(host)
    import uvicorn

    from llmloop.server.app import create_app

    scheme = "https" if tls_cert else "http"
    click.echo(
        f"llmloop serving {scheme}://{host}:{port}/ (web UI; API at /api/v1, docs at /api/v1/docs)", err=True
    )
    uvicorn.run(
        create_app(scheduler=True),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
    )
