"""``admin_pair``: the parity pair once its store has an admin, both clients acting as that admin.

The first user turns authentication on for the whole server, so the plain ``pair``'s keyless
remote client is refused from then on. The users and keys parity tests import this
(``from tests.integration.client.admin_fixtures import admin_pair_fixture``): the remote client
sends the admin's key, and the local client acts as the same identity, so reads that name the
caller (``users.me``, a key's owner) can be compared too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.integration.client.conftest import Pair

from llmloop.client import LocalClient, RemoteClient
from llmloop.config import Settings
from llmloop.context import local_context
from llmloop.security import auth

ADMIN = "admin"


@pytest.fixture(scope="module", name="admin_pair")
def admin_pair_fixture(pair: Pair) -> Iterator[Pair]:
    """The admin is made through the keyless remote client, while the server still lets it in."""
    key = pair.remote.users.bootstrap_admin(ADMIN).key.key
    ctx = local_context(Settings(home=pair.home))  # type: ignore[call-arg]
    local = LocalClient(ctx=ctx.as_actor(auth.actor_for_key(ctx.db, key, via="local")))
    remote = RemoteClient(Settings(home=pair.home, server_url=pair.url, api_key=key))  # type: ignore[call-arg]
    try:
        yield Pair(local, remote, pair.home, pair.url)
    finally:
        remote.http.close()
