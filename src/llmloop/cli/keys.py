"""``llmloop keys create|list|revoke`` on the store ``get_client()`` names; ``rotate-master`` on this machine.

A key's secret is printed once, by ``create``; afterwards only its prefix exists anywhere.
``rotate-master`` re-wraps key material with the master key of the machine that holds the
store, so it runs there and refuses while ``LLMLOOP_SERVER_URL`` points elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from llmloop.cli._durations import parse_duration
from llmloop.cli._output import fmt_time, json_option, print_json, print_table
from llmloop.client import get_client
from llmloop.config import get_settings
from llmloop.errors import Conflict, InvalidInput
from llmloop.security.schemas import ApiKeyCreate


@click.group()
def keys() -> None:
    """API keys, and rotation of the master encryption key."""


@keys.command("create")
@click.option("--user", required=True, help="Owner of the key (a user or service account).")
@click.option("--name", default="", help="A label, e.g. 'ci' or 'laptop'.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(["api", "api:read", "gateway"]),
    help="api (owner's roles, default), api:read (read-only), gateway (only /v1/* of --deployment).",
)
@click.option(
    "--deployment", "deployments", multiple=True, help="A deployment a gateway key may call (repeatable)."
)
@click.option("--expires-in", default=None, help="e.g. 30d, 12h; default: never.")
@json_option
def create(
    user: str,
    name: str,
    scopes: tuple[str, ...],
    deployments: tuple[str, ...],
    expires_in: str | None,
    json_: bool,
) -> None:
    """Create a key; its secret is printed this once."""
    spec = ApiKeyCreate(
        user=user,
        name=name,
        scopes=list(scopes) or ["api"],
        deployments=list(deployments),
        expires_in_s=parse_duration(expires_in, flag="--expires-in") if expires_in else None,
    )
    created = get_client().keys.create_key(spec)
    if json_:
        print_json(created)
        return
    click.echo(f"created key {created.prefix}… for {created.user} (scopes: {', '.join(created.scopes)})")
    click.echo("secret (shown once; stored only as a hash):")
    click.echo(f"  {created.key}")


@keys.command("list")
@click.option("--user", default=None, help="Only this owner's keys.")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
@json_option
def list_(user: str | None, include_revoked: bool, json_: bool) -> None:
    """Keys by prefix, owner, scope and dates; never their secrets."""
    items = get_client().keys.list_keys(user, include_revoked)
    if json_:
        print_json(items)
        return
    rows = [
        [
            k.prefix,
            k.user,
            k.name,
            ",".join(k.scopes) + (f" [{','.join(k.deployments)}]" if k.deployments else ""),
            fmt_time(k.created_at),
            fmt_time(k.expires_at),
            fmt_time(k.last_used_at),
            "revoked" if k.revoked_at else "active",
        ]
        for k in items
    ]
    print_table(["prefix", "user", "name", "scopes", "created", "expires", "last used", "state"], rows)


@keys.command("revoke")
@click.argument("key")
@json_option
def revoke(key: str, json_: bool) -> None:
    """Revoke a key by its prefix (llk_ab12cd34) or id; it stops working at once."""
    k = get_client().keys.revoke_key(key)
    if json_:
        print_json(k)
    else:
        click.echo(f"revoked {k.prefix}… ({k.user})")


@keys.command("rotate-master")
@click.option(
    "--new-key-file", type=click.Path(dir_okay=False, path_type=Path), help="File holding the new key."
)
@click.option(
    "--generate", type=click.Path(dir_okay=False, path_type=Path), help="Write a new random key here first."
)
@json_option
def rotate_master(new_key_file: Path | None, generate: Path | None, json_: bool) -> None:
    """Re-wrap every data key (artifacts, secrets) from the current master key to a new one.

    The data itself is not rewritten. Rerunning is safe. Afterwards point LLMLOOP_MASTER_KEY_FILE
    (or LLMLOOP_MASTER_KEY) at the new key. It runs on the machine that holds the store, with that
    machine's master key (which never travels), so it refuses while LLMLOOP_SERVER_URL is set.
    """
    from llmloop.context import local_context
    from llmloop.security import crypto, vault
    from llmloop.security.encrypted_artifacts import EncryptedArtifactStore

    if (new_key_file is None) == (generate is None):
        raise click.UsageError("give exactly one of --new-key-file or --generate")
    if get_settings().server_url:
        raise InvalidInput(
            "keys rotate-master works on this machine's store with its master key, but LLMLOOP_SERVER_URL "
            "is set: run it on the server's machine, without LLMLOOP_SERVER_URL",
            details={"setting": "LLMLOOP_SERVER_URL"},
        )
    old = crypto.load_master_key()
    if generate is not None:
        if generate.exists():
            raise Conflict(
                f"{generate} exists already; not overwriting a key file", details={"path": str(generate)}
            )
        fd = os.open(generate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(crypto.generate_master_key() + "\n")
        new_key_file = generate
    assert new_key_file is not None
    new = crypto.master_key_from_file(new_key_file)
    ctx = local_context()
    artifacts = EncryptedArtifactStore(ctx.settings.resolved_artifacts_url).rotate(old, new)
    secrets_done, secrets_current = vault.rotate(ctx, old, new)
    result = {
        "old_key_id": old.key_id.hex(),
        "new_key_id": new.key_id.hex(),
        "new_key_file": str(new_key_file),
        "artifacts_rewrapped": artifacts.rewrapped,
        "artifacts_already_current": artifacts.already_current,
        "secrets_rewrapped": secrets_done,
        "secrets_already_current": secrets_current,
    }
    if json_:
        print_json(result)
        return
    click.echo(
        f"re-wrapped {artifacts.rewrapped} artifact keys and {secrets_done} secrets "
        f"from master key {result['old_key_id']} to {result['new_key_id']}"
    )
    click.echo(f"now set LLMLOOP_MASTER_KEY_FILE={new_key_file} (and retire the old key)")
