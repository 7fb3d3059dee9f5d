"""The ``connector`` command: a group whose subcommands live one module per group.

Each command gets a ``Command`` (``cli.common``) owning its settings and one
``Database``, disposed of when the command ends. Settings are checked before any command
runs, logging is set up from them (``connector.logs``: the server's lines on standard
output, a one-off command's on standard error, where they stay out of its output), and a
database that cannot be reached or lacks its tables ends the command with one line that
names it and says what to do.
"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.exc import DBAPIError

from connector import logs
from connector.cli import bulk, conformance, keys, mail, notifications, service, users
from connector.cli.common import Command, database_problem

# The commands that run as services: their log lines are their output.
_SERVICES = {"serve", "scheduler"}


class _Group(click.Group):
    """The commands, with the database's failures made one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DBAPIError as exc:
            command = ctx.find_object(Command)
            url = command.settings.database_url if command is not None else None
            raise click.ClickException(database_problem(exc, url)) from exc


@click.group(cls=_Group)
@click.version_option(package_name="customer-credit-connector", prog_name="connector")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Customer credit connector."""
    command = ctx.ensure_object(Command)
    ctx.call_on_close(command.close)
    settings = command.settings  # a bad setting ends here, named
    stream = "stdout" if ctx.invoked_subcommand in _SERVICES else "stderr"
    logs.configure(settings.log_level, settings.log_format, stream)


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
