"""The ``connector`` command."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from connector.config import ConfigError, Settings, load_settings
from connector.keys import ROLES

F = TypeVar("F", bound=Callable[..., Any])


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from exc


def _friendly(func: F) -> F:
    """Turn the service's own errors into a one-line message and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from connector.errors import ConnectorError

        try:
            return func(*args, **kwargs)
        except ConnectorError as exc:
            raise click.ClickException(exc.message) from exc

    return wrapper  # type: ignore[return-value]


@click.group()
def cli() -> None:
    """Customer credit connector."""
    logging.basicConfig(
        level=os.environ.get("CONNECTOR_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", type=click.IntRange(1, 64), help="HTTP worker processes.")
def serve(host: str, port: int, workers: int | None) -> None:
    """Upgrade the database, then serve HTTP with several workers and one scheduler."""
    from connector.migrate import upgrade
    from connector.secrets_store import resolve_secret_key
    from connector.server import run_server

    settings = _settings()
    upgrade(settings.database_url)
    _ensure_credentials(settings)
    # Resolve the secret before forking so that every worker signs with the same key.
    os.environ["CONNECTOR_SECRET_KEY"] = resolve_secret_key(
        settings.secret_key, settings.instance_path
    )
    click.echo(
        f"connector: serving on http://{host}:{port} ({settings.database_url.split(':')[0]})"
    )
    run_server(settings, host, port, workers)


def _ensure_credentials(settings: Settings) -> None:
    """With no configured pair and no key yet, issue an admin pair and print it once."""
    if settings.app_key:
        return
    from connector.db import Database
    from connector.keys import INITIAL_KEY_LABEL, create_key, has_any_key

    db = Database(settings.database_url)
    try:
        with db.transaction() as session:
            if has_any_key(session):
                return
            issued = create_key(session, role="admin", label=INITIAL_KEY_LABEL)
    finally:
        db.dispose()
    click.echo(
        "connector: generated credentials (shown once; keep them safe):\n"
        f"  X-VTEX-API-AppKey:   {issued.app_key}\n"
        f"  X-VTEX-API-AppToken: {issued.app_token}"
    )


@cli.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations."""
    from connector.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    click.echo("connector: database is up to date")


@cli.command()
def check() -> None:
    """Recompute every account's figures from the ledger; exit 1 on any drift."""
    from connector.credit.check import find_drift
    from connector.db import Database

    settings = _settings()
    db = Database(settings.database_url)
    try:
        with db.transaction() as session:
            drift = find_drift(session)
    finally:
        db.dispose()
    for item in drift:
        click.echo(f"drift: {item.describe()}")
    if drift:
        click.echo(f"connector check: {len(drift)} drift(s) found", err=True)
        sys.exit(1)
    click.echo("connector check: no drift")


@cli.command()
@click.option("--parent-pid", type=int, default=None, hidden=True)
def scheduler(parent_pid: int | None) -> None:
    """Run the scheduled jobs in the foreground (``serve`` starts this for you)."""
    from connector.jobs.scheduler import run_scheduler

    run_scheduler(_settings(), parent_pid)


@cli.group()
def keys() -> None:
    """API keys: create, list, revoke."""


@keys.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--label", default="")
@_friendly
def keys_create(role: str, label: str) -> None:
    """Issue a key pair; the token is printed once and stored only hashed."""
    from connector.db import Database
    from connector.keys import create_key

    db = Database(_settings().database_url)
    with db.transaction() as session:
        issued = create_key(session, role=role, label=label)
    db.dispose()
    click.echo(f"X-VTEX-API-AppKey:   {issued.app_key}")
    click.echo(f"X-VTEX-API-AppToken: {issued.app_token}")


@keys.command("list")
def keys_list() -> None:
    """List the keys (never their tokens)."""
    from connector.db import Database
    from connector.keys import list_keys

    db = Database(_settings().database_url)
    with db.transaction() as session:
        rows = list_keys(session)
        for row in rows:
            state = "revoked" if row.revoked_at else "active"
            click.echo(f"{row.id}\t{row.role}\t{state}\t{row.created_at:%Y-%m-%d}\t{row.label}")
    db.dispose()


@keys.command("revoke")
@click.argument("app_key")
@_friendly
def keys_revoke(app_key: str) -> None:
    """Revoke a key at once."""
    from connector.db import Database
    from connector.keys import revoke_key

    db = Database(_settings().database_url)
    with db.transaction() as session:
        revoke_key(session, app_key)
    db.dispose()
    click.echo(f"revoked {app_key}")


@cli.command()
@click.option("--url", required=True, help="The connector's base URL.")
@click.option("--app-key", default="", envvar="CONNECTOR_APP_KEY", show_envvar=True)
@click.option("--app-token", default="", envvar="CONNECTOR_APP_TOKEN", show_envvar=True)
@click.option("--case", "cases", multiple=True, help="Run only this case (repeatable).")
@click.option("--account", help="Spend from this account in live cases instead of opening one.")
@click.option(
    "--callback-host",
    default="127.0.0.1",
    show_default=True,
    help="Where the callback receiver listens.",
)
@click.option("--callback-public-host", help="The host the connector calls back (if not the same).")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="JUnit XML report.")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="JSON report."
)
@click.option("--list", "list_cases", is_flag=True, help="List the cases and exit.")
def conformance(
    url: str,
    app_key: str,
    app_token: str,
    cases: tuple[str, ...],
    account: str | None,
    callback_host: str,
    callback_public_host: str | None,
    junit: Path | None,
    json_path: Path | None,
    list_cases: bool,
) -> None:
    """Check a connector URL against the payment provider protocol; exit 1 on any failure."""
    from connector.conformance import runner
    from connector.conformance.cases import CASES, select_cases
    from connector.conformance.harness import CaseFailure

    if list_cases:
        for case in CASES.values():
            click.echo(f"{case.name:24} {case.group:13} {case.description}")
        return
    try:
        selected = select_cases(list(cases))
    except CaseFailure as exc:
        raise click.UsageError(str(exc)) from exc
    results = runner.run(
        selected,
        url=url,
        app_key=app_key,
        app_token=app_token,
        account_id=account,
        callback_host=callback_host,
        callback_public_host=callback_public_host,
        out=sys.stderr,  # progress: a line per case as it ends
    )
    click.echo(runner.table(results))
    if junit:
        runner.write_junit(results, junit)
    if json_path:
        runner.write_json(results, json_path)
    sys.exit(0 if runner.passed(results) else 1)


@cli.group()
def users() -> None:
    """Staff users of the admin pages: create, list, set a password, disable."""


@users.command("create")
@click.option("--email", required=True, help="The user's e-mail, used to sign in.")
@click.option("--name", default="", help="The name shown in the admin.")
@click.password_option(
    "--password",
    envvar="CONNECTOR_USER_PASSWORD",
    help="Asked for when not given (or read from CONNECTOR_USER_PASSWORD).",
)
@_friendly
def users_create(email: str, name: str, password: str) -> None:
    """Add a staff user; the password is stored only as a scrypt hash."""
    from connector.db import Database
    from connector.migrate import upgrade
    from connector.web.users import create_user

    settings = _settings()
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        with db.transaction() as session:
            user = create_user(session, email=email, password=password, name=name)
    finally:
        db.dispose()
    click.echo(f"created staff user {user.email}")


@users.command("list")
def users_list() -> None:
    """List the staff users."""
    from connector.db import Database
    from connector.web.users import list_users

    db = Database(_settings().database_url)
    try:
        with db.transaction() as session:
            for user in list_users(session):
                state = "disabled" if user.disabled_at else "active"
                click.echo(f"{user.email}\t{state}\t{user.created_at:%Y-%m-%d}\t{user.name}")
    finally:
        db.dispose()


@users.command("set-password")
@click.option("--email", required=True)
@click.password_option("--password", envvar="CONNECTOR_USER_PASSWORD")
@_friendly
def users_set_password(email: str, password: str) -> None:
    """Change a user's password; their open sessions end."""
    from connector.db import Database
    from connector.web.users import set_password

    db = Database(_settings().database_url)
    try:
        with db.transaction() as session:
            set_password(session, email, password)
    finally:
        db.dispose()
    click.echo(f"password changed for {email}")


@users.command("disable")
@click.option("--email", required=True)
@_friendly
def users_disable(email: str) -> None:
    """Stop a user from signing in; their open sessions end."""
    from connector.db import Database
    from connector.web.users import disable_user

    db = Database(_settings().database_url)
    try:
        with db.transaction() as session:
            disable_user(session, email)
    finally:
        db.dispose()
    click.echo(f"disabled {email}")


@cli.group()
def mail() -> None:
    """The outbox of mails (sign-in links to My Credits)."""


@mail.command("list")
@click.option("--to", "recipient", default=None, help="Only mails to this address.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def mail_list(recipient: str | None, limit: int) -> None:
    """Show the latest mails, newest first, with their bodies."""
    from connector.db import Database
    from connector.web.outbox import list_mails

    db = Database(_settings().database_url)
    try:
        with db.transaction() as session:
            for item in list_mails(session, recipient=recipient, limit=limit):
                state = f"sent {item.sent_at:%Y-%m-%d %H:%M}" if item.sent_at else "not sent"
                click.echo(f"--- {item.created_at:%Y-%m-%d %H:%M} to {item.recipient} ({state})")
                click.echo(f"Subject: {item.subject}\n\n{item.body}\n")
    finally:
        db.dispose()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
