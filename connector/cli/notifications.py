"""``connector notifications``: the invoice mails to customers."""

from __future__ import annotations

from datetime import datetime

import click

from connector.cli.common import Command, pass_command
from connector.notify.notifications import preview_day, send_notifications


@click.group()
def notifications() -> None:
    """Invoice mails: issued, paid, and the reminders before and after due dates."""


@notifications.command("preview")
@click.option(
    "--date",
    "day",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="A day of the store's calendar (YYYY-MM-DD).",
)
@pass_command
def preview(command: Command, day: object) -> None:
    """Print the mails that day would send, in order; send nothing.

    Reminders are those of the invoices open now; a day to come assumes none is paid
    before. Mails already written are left out.
    """
    assert isinstance(day, datetime)  # click's DateTime gives one
    found = preview_day(command.db, day.date(), public_url=command.settings.public_url)
    for item in found:
        invoices = ", ".join(item.invoice_ids)
        click.echo(
            f"{item.moment:%Y-%m-%d %H:%M}Z  {item.rule:<10} {invoices:<24} "
            f"{item.recipient} ({item.language})  {item.subject}"
        )
    click.echo(f"{len(found)} mail(s)")


@notifications.command("send")
@pass_command
def send(command: Command) -> None:
    """Write the mails due now into the outbox, as the scheduler does every minute."""
    written = send_notifications(command.db, public_url=command.settings.public_url)
    click.echo(f"{written} mail(s) written")
