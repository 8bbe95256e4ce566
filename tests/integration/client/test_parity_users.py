"""Users, roles, passwords and sign-in through both clients: same JSON, same errors."""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import func, select
from tests.integration.client.admin_fixtures import ADMIN, admin_pair_fixture
from tests.integration.client.conftest import Pair

from llmloop.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from llmloop.security.schemas import RoleBinding, UserCreate
from llmloop.store.tables.security import SessionRow

__all__ = ["admin_pair_fixture"]  # the fixture, imported so pytest finds it here

COVERED = {
    "users.list",
    "users.create",
    "users.bootstrap_admin",
    "users.get",
    "users.disable",
    "users.grant",
    "users.revoke",
    "users.set_password",
    "users.login",
    "users.logout",
    "users.me",
}


def _side(c: object) -> str:
    return "remote" if getattr(c, "remote", False) else "local"


def test_users_made_and_changed_through_either_client_read_the_same(admin_pair: Pair) -> None:
    pair = admin_pair
    for c in (pair.local, pair.remote):
        spec = UserCreate(name=f"u-{_side(c)}", roles=[RoleBinding(project="p", role="viewer")])
        c.users.create_user(spec)
    # each client changes the user the other one made
    for c, other in ((pair.local, "u-remote"), (pair.remote, "u-local")):
        c.users.grant_role(other, "q", "member")
        c.users.grant_role(other, "p", "maintainer")  # replaces viewer
        c.users.revoke_role(other, "q")
    for name in ("u-local", "u-remote"):
        user = pair.same(lambda c, name=name: c.users.get_user(name))
        assert user["roles"] == [{"project": "p", "role": "maintainer"}] and not user["disabled"]
    names = [u["name"] for u in pair.same(lambda c: c.users.list_users())]
    assert names == [ADMIN, "u-local", "u-remote"]
    for c in (pair.local, pair.remote):
        c.users.create_user(UserCreate(name=f"gone-{_side(c)}"))
        c.users.disable_user(f"gone-{_side(c)}")
    for name in ("gone-local", "gone-remote"):
        assert pair.same(lambda c, name=name: c.users.get_user(name))["disabled"] is True


def test_passwords_set_through_either_client_sign_in_through_both(admin_pair: Pair) -> None:
    pair = admin_pair
    for c in (pair.local, pair.remote):
        c.users.create_user(UserCreate(name=f"pw-{_side(c)}", password=SecretStr("first password")))
        c.users.set_password(f"pw-{_side(c)}", f"second password {_side(c)}")

    def sessions() -> int:
        with pair.local.ctx.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(SessionRow)) or 0)

    before = sessions()
    for side in ("local", "remote"):
        signed_in = pair.both(lambda c, side=side: c.users.login(f"pw-{side}", f"second password {side}"))
        assert [r["user"] for r in signed_in] == [f"pw-{side}"] * 2
    assert sessions() == before + 4
    assert pair.same(lambda c: c.users.logout()) is None
    assert sessions() == before + 2  # each client ended the last session it opened
    assert pair.same_error(lambda c: c.users.login("pw-local", "first password")) is Unauthenticated
    assert pair.same_error(lambda c: c.users.login("nobody", "some password")) is Unauthenticated


def test_me_is_the_admin_through_both_clients(admin_pair: Pair) -> None:
    me = admin_pair.same(lambda c: c.users.me().model_copy(update={"via": ""}))
    assert me == {"id": ADMIN, "kind": "user", "roles": {"*": "admin"}, "via": ""}


def test_bad_input_raises_the_same_class_through_both_clients(admin_pair: Pair) -> None:
    pair = admin_pair
    pair.local.users.create_user(UserCreate(name="taken"))
    assert pair.same_error(lambda c: c.users.create_user(UserCreate(name="taken"))) is Conflict
    assert pair.same_error(lambda c: c.users.get_user("nobody")) is NotFound
    assert pair.same_error(lambda c: c.users.grant_role("nobody", "p", "viewer")) is NotFound
    assert pair.same_error(lambda c: c.users.revoke_role("taken", "never-held")) is NotFound
    assert pair.same_error(lambda c: c.users.disable_user(ADMIN)) is InvalidInput  # yourself
    assert pair.same_error(lambda c: c.users.set_password("taken", "short")) is InvalidInput
    spec = UserCreate(name="robot", kind="service_account", password=SecretStr("a long password"))
    assert pair.same_error(lambda c: c.users.create_user(spec)) is InvalidInput
    assert pair.same_error(lambda c: c.users.bootstrap_admin("second")) is Conflict  # users exist
