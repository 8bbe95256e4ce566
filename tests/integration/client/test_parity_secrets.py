"""Secrets through both clients: same JSON (never a value), same errors."""

from __future__ import annotations

import base64
import os

import pytest
from tests.integration.client.conftest import Pair

from llmloop.errors import InvalidInput, NotFound

COVERED = {"secrets.list", "secrets.set", "secrets.delete"}
MASTER_KEY = base64.b64encode(os.urandom(32)).decode()
SERVER_ENV = {"LLMLOOP_MASTER_KEY": MASTER_KEY}  # the server and the local client share store and key


@pytest.fixture(autouse=True)
def _master_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMLOOP_MASTER_KEY", MASTER_KEY)


def test_secrets_set_and_deleted_through_either_client_read_the_same(pair: Pair) -> None:
    for c in (pair.local, pair.remote):
        side = "remote" if c.remote else "local"
        c.secrets.set_secret("travel", f"openai-{side}", f"sk-{side}-value")
        c.secrets.set_secret("*", f"shared-{side}", "sk-shared")
    listed = pair.same(lambda c: c.secrets.list_secrets("travel"))
    assert [s["name"] for s in listed] == ["openai-local", "openai-remote"]
    assert "sk-" not in str(listed)
    assert [s["name"] for s in pair.same(lambda c: c.secrets.list_secrets("*"))] == [
        "shared-local",
        "shared-remote",
    ]
    pair.local.secrets.delete_secret("travel", "openai-remote")
    pair.remote.secrets.delete_secret("travel", "openai-local")
    assert pair.same(lambda c: c.secrets.list_secrets("travel")) == []


def test_bad_input_raises_the_same_class_through_both_clients(pair: Pair) -> None:
    assert pair.same_error(lambda c: c.secrets.delete_secret("travel", "never-set")) is NotFound
    assert pair.same_error(lambda c: c.secrets.set_secret("travel", "empty", "")) is InvalidInput
    assert pair.same_error(lambda c: c.secrets.set_secret("travel", "bad name!", "v")) is InvalidInput
    assert pair.same_error(lambda c: c.secrets.list_secrets("bad project!")) is InvalidInput
