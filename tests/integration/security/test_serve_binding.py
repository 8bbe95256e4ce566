"""`llmloop serve` refuses a non-loopback address until authentication is configured."""

from __future__ import annotations

from typing import Any

import pytest
from security_fixtures import *  # noqa: F403  (fixtures and helpers)

from llmloop.cli.server import check_bind, is_loopback
from llmloop.errors import InvalidInput


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org"])
def test_serve_refuses_open_binds_without_auth(sqlite_ctx: Any, cli: Any, host: str) -> None:
    res = cli("serve", "--host", host, "--port", "1")
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: refusing to bind {host}") and "llmloop admin init" in res.stderr
    assert res.stdout == ""


def test_loopback_is_always_allowed_and_auth_opens_other_addresses(
    sqlite_ctx: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert is_loopback(host)
        check_bind(host)
    monkeypatch.setenv("LLMLOOP_AUTH_REQUIRED", "1")
    check_bind("0.0.0.0")
    monkeypatch.delenv("LLMLOOP_AUTH_REQUIRED")
    with pytest.raises(InvalidInput):
        check_bind("0.0.0.0")
    assert cli("admin", "init").exit_code == 0
    check_bind("0.0.0.0")  # a user exists now


def test_tls_needs_both_files(sqlite_ctx: Any, cli: Any, tmp_path: Any) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    res = cli("serve", "--tls-cert", str(cert))
    assert res.exit_code == 2 and "--tls-key" in res.stderr
