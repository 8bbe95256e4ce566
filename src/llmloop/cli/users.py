"""``llmloop users create|list|grant|revoke|disable|set-password``, on the store ``get_client()`` names.

With ``LLMLOOP_SERVER_URL`` set they change the server's users (as the holder of ``LLMLOOP_API_KEY``,
an admin); otherwise the local store's, as its local admin.
"""

from __future__ import annotations

import sys

import click
from pydantic import SecretStr

from llmloop.cli._output import fmt_time, json_option, print_json, print_table
from llmloop.client import get_client
from llmloop.errors import InvalidInput
from llmloop.security.rbac import ROLES
from llmloop.security.schemas import RoleBinding, User, UserCreate


def read_password() -> str:
    """One line from stdin, so passwords never appear in argv or shell history."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InvalidInput("no password on stdin", details={"flag": "--password-stdin"})
    return password


def _binding(text: str) -> RoleBinding:
    project, sep, role = text.partition("=")
    if not sep or role not in ROLES:
        raise InvalidInput(
            f"--role: expected PROJECT=ROLE with ROLE one of {', '.join(ROLES)}; got {text!r}",
            details={"flag": "--role"},
        )
    return RoleBinding(project=project, role=role)


def _roles_text(user: User) -> str:
    return ", ".join(f"{b.project}={b.role}" for b in user.roles) or "-"


@click.group()
def users() -> None:
    """People and service accounts, and their roles per project."""


@users.command("create")
@click.argument("name")
@click.option("--service-account", is_flag=True, help="A non-human identity: API keys only, no password.")
@click.option(
    "--role", "roles", multiple=True, help="PROJECT=ROLE, e.g. travel=member or '*=viewer' (repeatable)."
)
@click.option("--password-stdin", is_flag=True, help="Read a UI password from stdin.")
@json_option
def create(
    name: str, service_account: bool, roles: tuple[str, ...], password_stdin: bool, json_: bool
) -> None:
    """Create a user (or service account) with roles."""
    password = SecretStr(read_password()) if password_stdin else None
    spec = UserCreate(
        name=name,
        kind="service_account" if service_account else "user",
        password=password,
        roles=[_binding(r) for r in roles],
    )
    user = get_client().users.create_user(spec)
    if json_:
        print_json(user)
    else:
        click.echo(f"created {user.kind} {user.name!r}  roles: {_roles_text(user)}")


@users.command("list")
@json_option
def list_(json_: bool) -> None:
    """Every user with their roles."""
    items = get_client().users.list_users()
    if json_:
        print_json(items)
        return
    rows = [
        [u.name, u.kind, _roles_text(u), "yes" if u.has_password else "no", fmt_time(u.created_at)]
        for u in items
    ]
    print_table(["name", "kind", "roles", "password", "created"], rows)


@users.command("grant")
@click.argument("name")
@click.option("--project", "-p", required=True, help="Project name, or '*' for every project.")
@click.option("--role", required=True, type=click.Choice(ROLES))
@json_option
def grant(name: str, project: str, role: str, json_: bool) -> None:
    """Give NAME a role in a project (replacing the one held there)."""
    user = get_client().users.grant_role(name, project, role)  # type: ignore[arg-type]
    if json_:
        print_json(user)
    else:
        click.echo(f"{user.name}: {_roles_text(user)}")


@users.command("revoke")
@click.argument("name")
@click.option("--project", "-p", required=True, help="Project name, or '*'.")
@json_option
def revoke(name: str, project: str, json_: bool) -> None:
    """Take NAME's role in a project away."""
    user = get_client().users.revoke_role(name, project)
    if json_:
        print_json(user)
    else:
        click.echo(f"{user.name}: {_roles_text(user)}")


@users.command("disable")
@click.argument("name")
@json_option
def disable(name: str, json_: bool) -> None:
    """Lock NAME out: every key and session of theirs stops working at once."""
    user = get_client().users.disable_user(name)
    if json_:
        print_json(user)
    else:
        click.echo(f"disabled {user.name!r}")


@users.command("set-password")
@click.argument("name")
def set_password(name: str) -> None:
    """Set NAME's UI password, read from stdin."""
    get_client().users.set_password(name, read_password())
    click.echo(f"password of {name!r} set")
