"""Running the service: ``serve``, ``scheduler``, ``db upgrade`` and ``check``."""

from __future__ import annotations

import logging
import os
import sys

import click

from connector.cli.common import Command, pass_command, shown
from connector.config import Settings
from connector.db import Database

log = logging.getLogger("connector.serve")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="HTTP worker processes (default: one per core; one on SQLite).",
)
@pass_command
def serve(command: Command, host: str, port: int, workers: int | None) -> None:
    """Upgrade the database, then serve HTTP with several workers and one scheduler."""
    from connector.migrate import upgrade
    from connector.secrets_store import resolve_secret_key
    from connector.server import metrics_folder, run_server

    settings = command.settings
    command.check_location(creating=True)
    upgrade(settings.database_url)
    credentials = _ensure_credentials(command.db, settings)
    command.close()  # the workers and the scheduler open their own
    # Resolve the secret before forking so that every worker signs with the same key.
    os.environ["CONNECTOR_SECRET_KEY"] = resolve_secret_key(
        settings.secret_key, settings.instance_path
    )
    log.info(
        "starting",
        extra={"database": shown(settings.database_url), "instance": str(settings.instance_path)},
    )
    with metrics_folder():
        run_server(settings, host, port, workers, announce=credentials)


def _ensure_credentials(db: Database, settings: Settings) -> str | None:
    """With no configured pair and no key yet, issue an admin pair; the text that shows it
    (printed once, after the server's start-up lines, and written nowhere else)."""
    if settings.app_key:
        return None
    from connector.access.keys import INITIAL_KEY_LABEL, create_key, has_any_key

    with db.transaction() as session:
        if has_any_key(session):
            return None
        issued = create_key(session, role="admin", label=INITIAL_KEY_LABEL)
    rule = "=" * 78
    return (
        f"\n{rule}\n"
        "connector: generated admin credentials, shown this once (kept only hashed):\n"
        f"  X-VTEX-API-AppKey:   {issued.app_key}\n"
        f"  X-VTEX-API-AppToken: {issued.app_token}\n"
        "Keep them safe; to use a pair of your own, set CONNECTOR_APP_KEY/CONNECTOR_APP_TOKEN.\n"
        f"{rule}\n\n"
    )


@click.group("db")
def db_group() -> None:
    """Database commands."""


@db_group.command("upgrade")
@pass_command
def db_upgrade(command: Command) -> None:
    """Apply the migrations (creating the database, and a SQLite file's folder)."""
    from connector.migrate import upgrade

    command.check_location(creating=True)
    applied = upgrade(command.settings.database_url)
    where = shown(command.settings.database_url)
    if applied:
        click.echo(f"connector: {where} upgraded to {applied[-1]} ({len(applied)} migration(s))")
    click.echo(f"connector: database {where} is up to date")


@click.command()
@pass_command
def check(command: Command) -> None:
    """Recompute every account's figures from the ledger; exit 1 on any drift."""
    from connector.credit.check import find_drift

    drift = command.db.run(find_drift, read_only=True)
    for item in drift:
        click.echo(f"drift: {item.describe()}")
    if drift:
        click.echo(f"connector check: {len(drift)} drift(s) found", err=True)
        sys.exit(1)
    click.echo("connector check: no drift")


@click.command()
@click.option("--parent-pid", type=int, default=None, hidden=True)
@pass_command
def scheduler(command: Command, parent_pid: int | None) -> None:
    """Run the scheduled jobs in the foreground (``serve`` starts this for you)."""
    from connector.jobs.scheduler import run_scheduler

    run_scheduler(command.db, command.settings, parent_pid)
