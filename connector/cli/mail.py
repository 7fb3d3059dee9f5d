"""``connector mail``: the outbox."""

from __future__ import annotations

import click

from connector.cli.common import Command, pass_command
from connector.notify.outbox import list_mails


@click.group()
def mail() -> None:
    """The outbox of mails (sign-in links to My Credits)."""


@mail.command("list")
@click.option("--to", "recipient", default=None, help="Only mails to this address.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@pass_command
def mail_list(command: Command, recipient: str | None, limit: int) -> None:
    """Show the latest mails, newest first, with their bodies."""
    with command.db.transaction(read_only=True) as session:
        for item in list_mails(session, recipient=recipient, limit=limit):
            state = f"sent {item.sent_at:%Y-%m-%d %H:%M}" if item.sent_at else "not sent"
            click.echo(f"--- {item.created_at:%Y-%m-%d %H:%M} to {item.recipient} ({state})")
            click.echo(f"Subject: {item.subject}\n\n{item.body}\n")
