"""The ``connector`` command."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable
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


# --- Bulk CSV: import, export, templates --------------------------------------------


@cli.group("import")
def import_group() -> None:
    """Import accounts or invoices from a CSV file; see the history and error reports."""


_FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


def _import_options(func: F) -> F:
    func = click.option(
        "--pause-after-chunk", type=float, default=0.0, hidden=True, help="For tests and demos."
    )(func)
    func = click.option(
        "--no-resume",
        is_flag=True,
        help="Start a new import even when this file's last import was interrupted.",
    )(func)
    func = click.option(
        "--chunk-size",
        type=click.IntRange(1, 5000),
        default=1000,
        show_default=True,
        help="Rows per transaction.",
    )(func)
    func = click.option("--dry-run", is_flag=True, help="Check every row; write nothing.")(func)
    return func


@import_group.command("accounts")
@click.argument("file", type=_FILE)
@click.option("--mode", type=click.Choice(["create", "update"]), required=True)
@_import_options
@_friendly
def import_accounts(
    file: Path,
    mode: str,
    dry_run: bool,
    chunk_size: int,
    no_resume: bool,
    pause_after_chunk: float,
) -> None:
    """Create or update accounts from FILE (columns: Email, Document, Document Type,
    Credit limit, Tolerance rate; update mode may key rows by an Id column)."""
    _run_file_import(file, "accounts", mode, dry_run, chunk_size, not no_resume, pause_after_chunk)


@import_group.command("invoices")
@click.argument("file", type=_FILE)
@_import_options
@_friendly
def import_invoices(
    file: Path, dry_run: bool, chunk_size: int, no_resume: bool, pause_after_chunk: float
) -> None:
    """Settle, cancel or annotate invoices from FILE (the invoice export, edited: Status,
    Payment link and Observation are read, keyed by Id)."""
    _run_file_import(
        file, "invoices", "update", dry_run, chunk_size, not no_resume, pause_after_chunk
    )


def _run_file_import(
    path: Path,
    kind: str,
    mode: str,
    dry_run: bool,
    chunk_size: int,
    resume: bool,
    pause_after_chunk: float,
) -> None:
    import time

    from connector.bulk.history import COMPLETED
    from connector.bulk.runner import Progress, run_import, start_file_import
    from connector.db import Database

    db = Database(_settings().database_url)
    started_at = time.monotonic()
    try:
        started = start_file_import(
            db, path, kind=kind, mode=mode, dry_run=dry_run, chunk_size=chunk_size, resume=resume
        )
        job = started.job
        if started.resumed:
            click.echo(
                f"connector: resuming import {job.id} after row {job.rows_done} "
                f"({job.chunks_done} chunk(s) already committed)",
                err=True,
            )
        bar: Any = None
        shown = job.rows_done
        if sys.stderr.isatty():
            bar = click.progressbar(
                length=max(job.rows_total, 1), label=f"{kind} {mode}", file=sys.stderr
            ).__enter__()
            bar.update(shown)

        def progress(p: Progress) -> None:
            nonlocal shown
            if bar is not None:
                bar.length = max(p.rows_total, 1)
                bar.update(p.rows_done - shown)
            shown = p.rows_done

        try:
            with path.open("rb") as stream:
                job = run_import(
                    db,
                    job.id,
                    started.token,
                    stream,
                    on_progress=progress,
                    pause_after_chunk=pause_after_chunk,
                )
        except KeyboardInterrupt:
            if bar is not None:
                bar.render_finish()
            click.echo(
                f"\nconnector: import {job.id} interrupted; run the same command again to resume",
                err=True,
            )
            sys.exit(130)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
    finally:
        db.dispose()
    seconds = time.monotonic() - started_at
    click.echo(_summary(job, seconds, job.rows_done - started.job.rows_done))
    if job.status != COMPLETED or job.failed_count:
        sys.exit(1)


def _summary(job: Any, seconds: float, rows_this_run: int) -> str:
    """The one line that ends an import."""
    from connector.bulk.history import FAILED

    label = "dry run" if job.dry_run else "import"
    if job.status == FAILED:
        return f"{label} {job.id}: failed: {job.message}"
    rate = rows_this_run / seconds if seconds > 0 else 0.0
    verbs = (
        ("would create", "would update", "unchanged", "would fail")
        if job.dry_run
        else ("created", "updated", "unchanged", "failed")
    )
    counts = (job.created_count, job.updated_count, job.unchanged_count, job.failed_count)
    parts = ", ".join(f"{n} {verb}" for n, verb in zip(counts, verbs, strict=True))
    line = (
        f"{label} {job.id}: {job.status}, {job.rows_done} rows: {parts} "
        f"({seconds:.1f} s, {rate:,.0f} rows/s)"
    )
    if job.failed_count:
        line += f"; report: connector import report {job.id}"
    return line


@import_group.command("history")
@click.option("--kind", type=click.Choice(["accounts", "invoices"]))
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
def import_history(kind: str | None, limit: int) -> None:
    """List the latest imports, newest first."""
    from connector.bulk.history import effective_status, list_jobs
    from connector.db import Database
    from connector.ids import utcnow

    db = Database(_settings().database_url)
    try:
        with db.snapshot() as session:  # a read: never queued behind an import's chunk
            now = utcnow()
            for job in list_jobs(session, kind=kind, limit=limit):
                dry = " (dry run)" if job.dry_run else ""
                click.echo(
                    f"{job.id}\t{job.created_at:%Y-%m-%d %H:%M}\t{job.kind} {job.mode}{dry}\t"
                    f"{effective_status(job, now)}\t{job.file_name}\t{job.requested_by}\t"
                    f"created {job.created_count}, updated {job.updated_count}, "
                    f"unchanged {job.unchanged_count}, failed {job.failed_count}"
                )
    finally:
        db.dispose()


@import_group.command("report")
@click.argument("job_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@_friendly
def import_report(job_id: str, output: Path | None) -> None:
    """Write an import's error report (row, column, value, code, reason) as CSV."""
    from connector.bulk.history import get_job, iter_errors
    from connector.bulk.report import report_text
    from connector.db import Database

    db = Database(_settings().database_url)
    try:
        with db.snapshot() as session:
            get_job(session, job_id)
            _write_csv(report_text(iter_errors(session, job_id)), output)
    finally:
        db.dispose()


def _write_csv(pieces: Iterable[str], output: Path | None) -> None:
    """To a file (UTF-8 with BOM, for spreadsheets) or to standard output (without)."""
    if output is None:
        for piece in pieces:
            sys.stdout.write(piece)
        sys.stdout.flush()
        return
    partial = output.with_name(output.name + ".partial")
    with partial.open("w", encoding="utf-8-sig", newline="") as target:
        for piece in pieces:
            target.write(piece)
    partial.replace(output)  # a half-written export never looks finished


@cli.command("export")
@click.argument("kind", type=click.Choice(["accounts", "invoices"]))
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--delimiter", type=click.Choice(["comma", "semicolon", "tab"]), default="comma")
@click.option(
    "--status",
    help="accounts: Open (default), Closed or all; invoices: Opened, Paid, Cancelled, "
    "Overdue, comma-separated",
)
@click.option("--email", help="accounts: the owner's e-mail")
@click.option("--document", help="accounts: the document")
@click.option("--account", "account_id", help="invoices: one account's id")
@click.option("--created-from", help="invoices: ISO date or date-time")
@click.option("--created-to", help="invoices: ISO date (the whole day) or date-time")
@click.option("--due-from", help="invoices: ISO date or date-time")
@click.option("--due-to", help="invoices: ISO date (the whole day) or date-time")
@click.option("--value", help="invoices: exact value, e.g. 1234.56")
@click.option("--friendly-id", help="invoices: friendly id")
@click.option("--observation", help="invoices: text within the observation")
@click.option("--order-id", help="invoices: order id")
@click.option("--op", type=click.Choice(["and", "or"]), help="invoices: combine filters")
@_friendly
def export(kind: str, output: Path | None, delimiter: str, **filters: str | None) -> None:
    """Export accounts or (filtered) invoices as CSV, to standard output or -o FILE."""
    import time

    from connector.api.bulk import account_export_filter, invoice_export_filter
    from connector.bulk.export import export_text, parse_delimiter
    from connector.db import Database
    from connector.errors import ValidationError

    names = {
        "status": "status",
        "email": "email",
        "document": "document",
        "account_id": "creditAccountId",
        "created_from": "createdDateFrom",
        "created_to": "createdDateTo",
        "due_from": "dueDateFrom",
        "due_to": "dueDateTo",
        "value": "value",
        "friendly_id": "friendlyId",
        "observation": "observation",
        "order_id": "orderId",
        "op": "op",
    }
    params = {names[k]: v for k, v in filters.items() if v}
    try:
        f = (account_export_filter if kind == "accounts" else invoice_export_filter)(params)
    except ValidationError as exc:
        raise click.BadParameter("; ".join(f"{k}: {v}" for k, v in exc.fields.items())) from exc
    db = Database(_settings().database_url)
    count = 0

    def counted() -> None:
        nonlocal count
        count += 1

    started = time.monotonic()
    try:
        pieces = export_text(
            db,
            kind,  # type: ignore[arg-type]
            f,
            delimiter=parse_delimiter(delimiter),
            on_row=counted,
        )
        _write_csv(pieces, output)
    finally:
        db.dispose()
    seconds = time.monotonic() - started
    where = output or "standard output"
    click.echo(f"exported {count} {kind} to {where} in {seconds:.1f} s", err=True)


@cli.command("template")
@click.argument("kind", type=click.Choice(["accounts", "invoices"]))
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--lang", type=click.Choice(["en", "es", "pt"]), default="en", show_default=True)
@click.option(
    "--delimiter",
    type=click.Choice(["comma", "semicolon"]),
    help="Default: comma for en, semicolon for es and pt.",
)
def template(kind: str, output: Path | None, lang: str, delimiter: str | None) -> None:
    """Write the CSV template of an import (its header row)."""
    from connector.bulk.export import parse_delimiter
    from connector.bulk.templates import template_text

    sep = parse_delimiter(delimiter) if delimiter else None
    _write_csv(template_text(kind, lang, sep), output)  # type: ignore[arg-type]


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
