"""``connector import``, ``export`` and ``template``: bulk CSV from the command line."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from connector.bulk.export import export_text, parse_delimiter
from connector.bulk.filters import account_export_filter, invoice_export_filter
from connector.bulk.history import (
    COMPLETED,
    FAILED,
    effective_status,
    get_job,
    iter_errors,
    list_jobs,
)
from connector.bulk.report import report_text
from connector.bulk.runner import Progress, run_import, start_file_import
from connector.bulk.sheet_formats import template_text
from connector.cli.common import Command, friendly, pass_command, write_csv
from connector.clock import utcnow
from connector.credit.settings import load_store_settings
from connector.db import Database
from connector.errors import ValidationError

F = TypeVar("F", bound=Callable[..., Any])


@click.group("import")
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
@friendly
@pass_command
def import_accounts(
    command: Command,
    file: Path,
    mode: str,
    dry_run: bool,
    chunk_size: int,
    no_resume: bool,
    pause_after_chunk: float,
) -> None:
    """Create or update accounts from FILE (columns: Email, Document, Document Type,
    Credit limit, Tolerance rate; update mode may key rows by an Id column)."""
    _run_file_import(
        command.db, file, "accounts", mode, dry_run, chunk_size, not no_resume, pause_after_chunk
    )


@import_group.command("invoices")
@click.argument("file", type=_FILE)
@_import_options
@friendly
@pass_command
def import_invoices(
    command: Command,
    file: Path,
    dry_run: bool,
    chunk_size: int,
    no_resume: bool,
    pause_after_chunk: float,
) -> None:
    """Settle, cancel or annotate invoices from FILE (the invoice export, edited: Status,
    Payment link and Observation are read, keyed by Id)."""
    _run_file_import(
        command.db,
        file,
        "invoices",
        "update",
        dry_run,
        chunk_size,
        not no_resume,
        pause_after_chunk,
    )


def _run_file_import(
    db: Database,
    path: Path,
    kind: str,
    mode: str,
    dry_run: bool,
    chunk_size: int,
    resume: bool,
    pause_after_chunk: float,
) -> None:
    started_at = time.monotonic()
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
    seconds = time.monotonic() - started_at
    click.echo(_summary(job, seconds, job.rows_done - started.job.rows_done))
    if job.status != COMPLETED or job.failed_count:
        sys.exit(1)


def _summary(job: Any, seconds: float, rows_this_run: int) -> str:
    """The one line that ends an import."""
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
@pass_command
def import_history(command: Command, kind: str | None, limit: int) -> None:
    """List the latest imports, newest first."""
    now = utcnow()
    # A snapshot: the history never waits behind an import chunk's write lock.
    with command.db.transaction(read_only=True) as session:
        for job in list_jobs(session, kind=kind, limit=limit):
            dry = " (dry run)" if job.dry_run else ""
            click.echo(
                f"{job.id}\t{job.created_at:%Y-%m-%d %H:%M}\t{job.kind} {job.mode}{dry}\t"
                f"{effective_status(job, now)}\t{job.file_name}\t{job.requested_by}\t"
                f"created {job.created_count}, updated {job.updated_count}, "
                f"unchanged {job.unchanged_count}, failed {job.failed_count}"
            )


@import_group.command("report")
@click.argument("job_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@friendly
@pass_command
def import_report(command: Command, job_id: str, output: Path | None) -> None:
    """Write an import's error report (row, column, value, code, reason) as CSV."""
    with command.db.transaction(read_only=True) as session:
        get_job(session, job_id)
        write_csv(report_text(iter_errors(session, job_id)), output)


@click.command("export")
@click.argument("kind", type=click.Choice(["accounts", "invoices"]))
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option(
    "--delimiter",
    type=click.Choice(["comma", "semicolon", "tab"]),
    help="Default: comma for en, semicolon for es and pt.",
)
@click.option(
    "--lang",
    type=click.Choice(["en", "es", "pt"]),
    default="en",
    show_default=True,
    help="en: the technical format (ISO dates, decimal points); es, pt: the spreadsheet's "
    "(headers and words of the language, dd/mm/yyyy, decimal commas).",
)
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
@friendly
@pass_command
def export(
    command: Command,
    /,
    kind: str,
    output: Path | None,
    delimiter: str | None,
    lang: str,
    **filters: str | None,
) -> None:
    """Export accounts or (filtered) invoices as CSV, to standard output or -o FILE."""
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
        settings = command.db.run(load_store_settings, read_only=True)
        f = (account_export_filter if kind == "accounts" else invoice_export_filter)(
            params, settings
        )
    except ValidationError as exc:
        raise click.BadParameter("; ".join(f"{k}: {v}" for k, v in exc.fields.items())) from exc
    count = 0

    def counted() -> None:
        nonlocal count
        count += 1

    started = time.monotonic()
    pieces = export_text(
        command.db,
        kind,  # type: ignore[arg-type]
        f,
        delimiter=parse_delimiter(delimiter) if delimiter else None,
        lang=lang,  # type: ignore[arg-type]
        on_row=counted,
    )
    write_csv(pieces, output)
    seconds = time.monotonic() - started
    where = output or "standard output"
    click.echo(f"exported {count} {kind} to {where} in {seconds:.1f} s", err=True)


@click.command("template")
@click.argument("kind", type=click.Choice(["accounts", "invoices"]))
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--lang", type=click.Choice(["en", "es", "pt"]), default="en", show_default=True)
@click.option(
    "--delimiter",
    type=click.Choice(["comma", "semicolon"]),
    help="Default: comma for en, semicolon for es and pt.",
)
def template(kind: str, output: Path | None, lang: str, delimiter: str | None) -> None:
    """Write the CSV template of an import: its header row and an example row it skips."""
    sep = parse_delimiter(delimiter) if delimiter else None
    write_csv(template_text(kind, lang, sep), output)  # type: ignore[arg-type]
