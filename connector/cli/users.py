"""``connector users``: staff users of the admin pages."""

from __future__ import annotations

import click

from connector.access.principals import STAFF_ROLES
from connector.access.users import (
    create_user,
    disable_user,
    enable_user,
    list_users,
    remove_totp,
    set_password,
    set_role,
)
from connector.cli.common import Command, friendly, pass_command


@click.group()
def users() -> None:
    """Staff users of the admin pages: create, list, set a password or a role, disable,
    enable, remove a second factor."""


@users.command("create")
@click.option("--email", required=True, help="The user's e-mail, used to sign in.")
@click.option("--name", default="", help="The name shown in the admin.")
@click.option(
    "--role",
    type=click.Choice(STAFF_ROLES),
    default="admin",
    show_default=True,
    help=(
        "admin: changes anything, manages keys and users; finance: accounts and invoices;"
        " viewer: reads every page, changes nothing."
    ),
)
@click.password_option(
    "--password",
    envvar="CONNECTOR_USER_PASSWORD",
    help="Asked for when not given (or read from CONNECTOR_USER_PASSWORD).",
)
@friendly
@pass_command
def users_create(command: Command, email: str, name: str, role: str, password: str) -> None:
    """Add a staff user; the password is stored only as a scrypt hash."""
    user = command.db.run(
        lambda session: create_user(session, email=email, password=password, name=name, role=role)
    )
    click.echo(f"created staff user {user.email} ({user.role})")


@users.command("list")
@pass_command
def users_list(command: Command) -> None:
    """List the staff users."""
    with command.db.transaction(read_only=True) as session:
        for user in list_users(session):
            state = "disabled" if user.disabled_at else "active"
            factor = "second factor" if user.has_second_factor else "password only"
            click.echo(
                f"{user.email}\t{state}\t{user.created_at:%Y-%m-%d}\t{user.name}\t{user.role}"
                f"\t{factor}"
            )


@users.command("set-password")
@click.option("--email", required=True)
@click.password_option("--password", envvar="CONNECTOR_USER_PASSWORD")
@friendly
@pass_command
def users_set_password(command: Command, email: str, password: str) -> None:
    """Change a user's password; their open sessions end."""
    command.db.run(lambda session: set_password(session, email, password))
    click.echo(f"password changed for {email}")


@users.command("set-role")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(STAFF_ROLES))
@friendly
@pass_command
def users_set_role(command: Command, email: str, role: str) -> None:
    """Change what a user may do in the admin; it holds from their next request."""
    command.db.run(lambda session: set_role(session, email, role))
    click.echo(f"{email} is now {role}")


@users.command("disable")
@click.option("--email", required=True)
@friendly
@pass_command
def users_disable(command: Command, email: str) -> None:
    """Stop a user from signing in; their open sessions end."""
    command.db.run(lambda session: disable_user(session, email))
    click.echo(f"disabled {email}")


@users.command("enable")
@click.option("--email", required=True)
@friendly
@pass_command
def users_enable(command: Command, email: str) -> None:
    """Let a disabled user sign in again with their password."""
    command.db.run(lambda session: enable_user(session, email))
    click.echo(f"enabled {email}")


@users.command("remove-second-factor")
@click.option("--email", required=True)
@friendly
@pass_command
def users_remove_second_factor(command: Command, email: str) -> None:
    """Turn a user's second factor off (a lost phone); the password suffices again."""
    command.db.run(lambda session: remove_totp(session, email))
    click.echo(f"second factor removed for {email}")
