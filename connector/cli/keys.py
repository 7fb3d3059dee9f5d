"""``connector keys``: API keys issued, listed and revoked."""

from __future__ import annotations

import click

from connector.access.keys import ROLES, create_key, list_keys, revoke_key
from connector.cli.common import Command, friendly, pass_command


@click.group()
def keys() -> None:
    """API keys: create, list, revoke."""


@keys.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--label", default="")
@friendly
@pass_command
def keys_create(command: Command, role: str, label: str) -> None:
    """Issue a key pair; the token is printed once and stored only hashed."""
    issued = command.db.run(lambda session: create_key(session, role=role, label=label))
    click.echo(f"X-VTEX-API-AppKey:   {issued.app_key}")
    click.echo(f"X-VTEX-API-AppToken: {issued.app_token}")


@keys.command("list")
@pass_command
def keys_list(command: Command) -> None:
    """List the keys (never their tokens)."""
    with command.db.transaction(read_only=True) as session:
        for row in list_keys(session):
            state = "revoked" if row.revoked_at else "active"
            click.echo(f"{row.id}\t{row.role}\t{state}\t{row.created_at:%Y-%m-%d}\t{row.label}")


@keys.command("revoke")
@click.argument("app_key")
@friendly
@pass_command
def keys_revoke(command: Command, app_key: str) -> None:
    """Revoke a key at once."""
    command.db.run(lambda session: revoke_key(session, app_key))
    click.echo(f"revoked {app_key}")
