"""The ``connector`` command: a group whose subcommands live one module per group.

Each command gets a ``Command`` (``cli.common``) owning its settings and one
``Database``, disposed of when the command ends.
"""

from __future__ import annotations

import logging
import os

import click

from connector.cli import bulk, conformance, keys, mail, notifications, service, users
from connector.cli.common import Command


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Customer credit connector."""
    logging.basicConfig(
        level=os.environ.get("CONNECTOR_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    command = ctx.ensure_object(Command)
    ctx.call_on_close(command.close)


for command in (
    service.serve,
    service.scheduler,
    service.db_group,
    service.check,
    keys.keys,
    users.users,
    mail.mail,
    notifications.notifications,
    conformance.conformance,
    bulk.import_group,
    bulk.export,
    bulk.template,
):
    cli.add_command(command)


def main() -> None:
    cli()
