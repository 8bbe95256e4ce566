"""The admin commands with LLMLOOP_SERVER_URL set change the server's store, not a local one.

A real ``llmloop serve`` holds the store (and the master key); the CLI runs with its own, empty
home and no master key, so anything it wrote locally would show up there, and a secret could
not be encrypted at all unless the server did it.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import LiveServer

from llmloop.config import Settings, reset_settings
from llmloop.context import local_context
from llmloop.security import audit, keys, users, vault

MASTER_KEY = base64.b64encode(os.urandom(32)).decode()
SERVER_ENV = {"LLMLOOP_MASTER_KEY": MASTER_KEY}


@pytest.fixture
def cli_home(live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cli-home"
    monkeypatch.setenv("LLMLOOP_HOME", str(home))
    monkeypatch.setenv("LLMLOOP_SERVER_URL", live_server.url)
    monkeypatch.delenv("LLMLOOP_MASTER_KEY", raising=False)
    reset_settings()
    return home


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.lstrip().startswith(("{", "[")) else result.stdout


def test_admin_commands_change_the_servers_store(
    cli: Any, cli_home: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init = _ok(cli("admin", "init", "--json"))
    denied = cli("users", "list")  # authentication is on now, on the server
    assert denied.exit_code == 2 and denied.stderr.startswith("error: authentication required")
    monkeypatch.setenv("LLMLOOP_API_KEY", init["key"]["key"])
    reset_settings()

    _ok(cli("users", "create", "alice", "--role", "p=member", "--password-stdin", input="alice's password\n"))
    _ok(cli("users", "grant", "alice", "-p", "q", "--role", "viewer"))
    _ok(cli("users", "revoke", "alice", "-p", "q"))
    _ok(cli("users", "set-password", "alice", input="a new password\n"))
    _ok(cli("users", "create", "bob"))
    _ok(cli("users", "disable", "bob"))
    alice_key = _ok(cli("keys", "create", "--user", "alice", "--name", "laptop", "--json"))
    spare = _ok(cli("keys", "create", "--user", "alice", "--name", "spare", "--json"))
    _ok(cli("keys", "revoke", spare["prefix"]))
    _ok(cli("secrets", "set", "travel", "openai", input="sk-remote\n"))
    _ok(cli("secrets", "set", "travel", "old", input="sk-old\n"))
    _ok(cli("secrets", "delete", "travel", "old"))
    _ok(cli("privacy", "retention", "set", "-p", "travel", "--kind", "runs", "--days", "30"))
    _ok(cli("privacy", "purge"))
    _ok(cli("privacy", "erase", "--user-id", "someone"))

    # through the server: the CLI's own reads see it all
    listed = _ok(cli("users", "list", "--json"))
    assert [(u["name"], u["disabled"]) for u in listed] == [("admin", False), ("alice", False), ("bob", True)]
    assert [k["name"] for k in _ok(cli("keys", "list", "--user", "alice", "--json"))] == ["laptop"]
    assert [s["name"] for s in _ok(cli("secrets", "list", "travel", "--json"))] == ["openai"]
    assert _ok(cli("privacy", "retention", "show", "-p", "travel", "--json"))["days"] == {"runs": 30}
    assert _ok(cli("audit", "verify", "--json"))["ok"] is True
    assert _ok(cli("store", "verify", "--json"))["ok"] is True
    remote_actions = {e["action"] for e in _ok(cli("audit", "list", "--actor", "admin", "--json"))}

    # in the server's store itself
    ctx = local_context(Settings(home=isolated_home))  # type: ignore[call-arg]
    alice = users.get_user(ctx, name="alice")
    assert [(b.project, b.role) for b in alice.roles] == [("p", "member")] and alice.has_password
    assert [k.prefix for k in keys.list_keys(ctx, user="alice")] == [alice_key["prefix"]]
    assert [s.name for s in vault.list_secrets(ctx, project="travel")] == ["openai"]
    events = audit.list_events(ctx, actor="admin", limit=1000)
    assert {e.action for e in events} == remote_actions >= {
        "users.create", "users.grant", "users.revoke", "users.password", "users.disable", "keys.create",
        "keys.revoke", "secrets.set", "secrets.delete", "privacy.retention", "privacy.erase",
    }  # fmt: skip
    assert all(e.via.startswith("http ") for e in events)
    # and nothing in the CLI's own home
    assert not cli_home.exists() or not any(cli_home.iterdir())


def test_rotate_master_refuses_to_run_against_a_server(cli: Any, cli_home: Path, tmp_path: Path) -> None:
    out = cli("keys", "rotate-master", "--generate", str(tmp_path / "new.key"))
    assert out.exit_code == 2
    assert out.stderr.startswith("error: keys rotate-master works on this machine's store")
    assert not (tmp_path / "new.key").exists()


def test_admin_init_against_an_initialised_server_is_refused(
    cli: Any, cli_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _ok(cli("admin", "init", "--json"))["key"]["key"]
    anonymous = cli("admin", "init")
    assert anonymous.exit_code == 2 and anonymous.stderr.startswith("error: authentication required")
    monkeypatch.setenv("LLMLOOP_API_KEY", key)
    reset_settings()
    again = cli("admin", "init")
    assert again.exit_code == 2 and again.stderr.startswith("error: llmloop is already initialised")
