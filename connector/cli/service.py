"""Running the service: ``serve``, ``scheduler``, ``db upgrade`` and ``check``."""

from __future__ import annotations

import os
import sys

import click

from connector.cli.common import Command, pass_command
from connector.config import Settings
from connector.db import Database


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", type=click.IntRange(1, 64), help="HTTP worker processes.")
@pass_command
def serve(command: Command, host: str, port: int, workers: int | None) -> None:
    """Upgrade the database, then serve HTTP with several workers and one scheduler."""
    from connector.migrate import upgrade
    from connector.secrets_store import resolve_secret_key
    from connector.server import run_server

    settings = command.settings
    upgrade(settings.database_url)
    _ensure_credentials(command.db, settings)
    command.close()  # the workers and the scheduler open their own
    # Resolve the secret before forking so that every worker signs with the same key.
    os.environ["CONNECTOR_SECRET_KEY"] = resolve_secret_key(
        settings.secret_key, settings.instance_path
    )
    click.echo(
        f"connector: serving on http://{host}:{port} ({settings.database_url.split(':')[0]})"
    )
    run_server(settings, host, port, workers)


def _ensure_credentials(db: Database, settings: Settings) -> None:
    """With no configured pair and no key yet, issue an admin pair and print it once."""
    if settings.app_key:
        return
    from connector.access.keys import INITIAL_KEY_LABEL, create_key, has_any_key

    with db.transaction() as session:
        if has_any_key(session):
            return
        issued = create_key(session, role="admin", label=INITIAL_KEY_LABEL)
    click.echo(
        "connector: generated credentials (shown once; keep them safe):\n"
        f"  X-VTEX-API-AppKey:   {issued.app_key}\n"
        f"  X-VTEX-API-AppToken: {issued.app_token}"
    )


@click.group("db")
def db_group() -> None:
    """Database commands."""


@db_group.command("upgrade")
@pass_command
def db_upgrade(command: Command) -> None:
    """Apply the migrations."""
    from connector.migrate import upgrade

    upgrade(command.settings.database_url)
    click.echo("connector: database is up to date")


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
