"""API keys through both clients: same JSON, same errors; the secret only in the create answer."""

from __future__ import annotations

from tests.integration.client.admin_fixtures import admin_pair_fixture
from tests.integration.client.conftest import Pair

from llmloop.errors import Conflict, InvalidInput, NotFound
from llmloop.security.schemas import ApiKeyCreate, UserCreate

__all__ = ["admin_pair_fixture"]

COVERED = {"keys.list", "keys.create", "keys.revoke"}


def test_keys_made_and_revoked_through_either_client_read_the_same(admin_pair: Pair) -> None:
    pair = admin_pair
    pair.local.users.create_user(UserCreate(name="owner"))
    made = pair.both(
        lambda c: c.keys.create_key(ApiKeyCreate(user="owner", name=f"k-{c.remote}", scopes=["api:read"]))
    )
    assert [m["key"].startswith(m["prefix"]) for m in made] == [True, True]
    listed = pair.same(lambda c: c.keys.list_keys(user="owner"))
    assert {k["prefix"] for k in listed} == {m["prefix"] for m in made}
    assert all("key" not in k for k in listed)
    # each client revokes the key the other made
    pair.local.keys.revoke_key(made[1]["prefix"])
    pair.remote.keys.revoke_key(made[0]["id"])
    assert pair.same(lambda c: c.keys.list_keys(user="owner")) == []
    revoked = pair.same(lambda c: c.keys.list_keys(user="owner", include_revoked=True))
    assert len(revoked) == 2 and all(k["revoked_at"] for k in revoked)
    assert {k["user"] for k in pair.same(lambda c: c.keys.list_keys())} == {"admin"}  # owner: revoked only


def test_bad_input_raises_the_same_class_through_both_clients(admin_pair: Pair) -> None:
    pair = admin_pair
    assert pair.same_error(lambda c: c.keys.revoke_key("llk_00000000")) is NotFound
    assert pair.same_error(lambda c: c.keys.create_key(ApiKeyCreate(user="nobody"))) is NotFound
    gateway = ApiKeyCreate(user="admin", scopes=["gateway"])  # names no deployment
    assert pair.same_error(lambda c: c.keys.create_key(gateway)) is InvalidInput
    pair.local.users.create_user(UserCreate(name="locked"))
    pair.local.users.disable_user("locked")
    assert pair.same_error(lambda c: c.keys.create_key(ApiKeyCreate(user="locked"))) is Conflict
