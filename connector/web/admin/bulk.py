"""Bulk: CSV templates, uploads and their imports, the import history, and exports of the
accounts and invoices lists as filtered.

Every rule lives in ``connector.bulk``: an upload is checked, stored and queued by
``queue_import`` (as the API's is), the scheduler runs it, and its page refreshes itself
(a meta refresh: the pages run no script) until it ends. The import tables are read from
a snapshot, as the API's polling reads them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, BinaryIO, cast

from flask import flash, redirect, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from connector.access.principals import WRITE_CREDIT
from connector.bulk.export import ExportKind, export_text
from connector.bulk.history import (
    INTERRUPTED,
    QUEUED,
    RUNNING,
    count_jobs,
    get_job,
    iter_errors,
    job_to_dict,
    list_jobs,
)
from connector.bulk.report import job_report, localized_reason
from connector.bulk.sheet_formats import FORMATS, date_example, money_example, template_text
from connector.bulk.templates import (
    INVOICE_STATUS,
    INVOICE_STATUS_WORDS,
    KINDS,
    LANGS,
    OBSERVATION,
    PAID_ON,
    PAYMENT_LINK,
    Kind,
    Lang,
    word_of,
)
from connector.bulk.uploads import queue_import
from connector.context import get_db, now
from connector.credit.account_search import AccountFilter
from connector.credit.invoice_search import InvoiceFilter
from connector.credit.statuses import InvoiceStatus
from connector.errors import ConnectorError, NotFound
from connector.web import i18n
from connector.web.admin.accounts import account_filter_from_request
from connector.web.admin.base import bp, needs
from connector.web.admin.invoices import invoice_filter_from_request
from connector.web.auth import current_staff
from connector.web.messages import error_fields, error_message
from connector.web.pages import (
    csv_download,
    not_found,
    page_from_request,
    render,
    store_settings,
    store_today,
)

ERRORS_SHOWN = 20  # the import page lists the first errors; the report has them all
REFRESH_SECONDS = 2


def row_reason(stored: str) -> str:
    """A row's reason in the page's language (``report.localized_reason``)."""
    return localized_reason(stored, i18n.gettext)


def _dry_run(session: Session, job_id: str | None, moment: datetime) -> dict[str, Any] | None:
    """The dry run a form imports for real, as the history shows it (None if there is none)."""
    if not job_id:
        return None
    try:
        job = get_job(session, job_id)
    except NotFound:
        return None
    return job_to_dict(job, moment) if job.dry_run else None


def _bulk_page(
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
) -> tuple[str, int]:
    moment = now()
    checked_id = values.get("checked") if values is not None else request.args.get("checked")

    def load(session: Session) -> dict[str, Any]:
        page = page_from_request(count_jobs(session))
        jobs = list_jobs(session, offset=page.offset, limit=page.size)
        return {
            "page": page,
            "jobs": [job_to_dict(job, moment) for job in jobs],
            "checked": _dry_run(session, checked_id, moment),
        }

    data = get_db().run(load, read_only=True)
    checked = data["checked"]
    if values is None:
        # A fresh form: the dry run's settings when importing it for real, else the kind a
        # link asked for ("Bulk update" on the invoices list).
        if checked is not None:
            values = {"kind": checked["kind"], "mode": checked["mode"], "checked": checked["id"]}
        else:
            kind = request.args.get("kind")
            values = {"kind": kind if kind in KINDS else "accounts", "mode": "create"}
    return render(
        "admin/bulk.html",
        status,
        values=values,
        errors=errors or {},
        error=error,
        languages_for_templates=LANGS,
        template_language=i18n.current_language(),
        sheet=_sheet_words(cast(Lang, i18n.current_language())),
        **data,
    )


def _sheet_words(lang: Lang) -> dict[str, str]:
    """How files in the page's language write what the instructions name: the Status
    column and its words, dates, amounts and the separator (from the one column table)."""
    sheet_format = FORMATS[lang]
    return {
        "status": INVOICE_STATUS.title(lang),
        "paid": word_of(INVOICE_STATUS_WORDS, InvoiceStatus.PAID, lang),
        "cancelled": word_of(INVOICE_STATUS_WORDS, InvoiceStatus.CANCELLED, lang),
        "paid_on": PAID_ON.title(lang),
        "payment_link": PAYMENT_LINK.title(lang),
        "observation": OBSERVATION.title(lang),
        "date": i18n.gettext("dd/mm/yyyy") if sheet_format.day_first else "yyyy-mm-dd",
        "date_example": date_example(lang),
        "amount": money_example(lang),
        "separator": sheet_format.delimiter,
    }


@bp.get("/bulk")
def bulk() -> tuple[str, int]:
    return _bulk_page()


@bp.get("/bulk/template")
def bulk_template() -> WerkzeugResponse:
    """A template to fill: its header in the chosen language and the example row."""
    kind = request.args.get("kind")
    lang = request.args.get("lang") or i18n.current_language()
    if kind not in KINDS or lang not in LANGS:
        not_found()
    currency = store_settings().currency
    pieces = template_text(cast(Kind, kind), cast(Lang, lang), currency=currency)
    return csv_download(pieces, f"{kind}-template-{lang}.csv")


@bp.post("/bulk/imports")
@needs(WRITE_CREDIT)
def bulk_upload() -> WerkzeugResponse | tuple[str, int]:
    """Check, store and queue an uploaded file (the seeds' "Escoger archivo")."""
    form = request.form
    values = {
        "kind": form.get("kind", ""),
        "mode": form.get("mode", ""),
        "dryRun": "1" if form.get("dryRun") == "1" else "",
        "checked": form.get("checked", ""),
    }
    kind, dry_run = values["kind"], values["dryRun"] == "1"
    # The mode is the accounts' choice; an invoice file only ever updates.
    mode = values["mode"] if kind == "accounts" else "update"
    upload = request.files.get("file")
    staff = current_staff()
    assert staff is not None  # the blueprint's guard
    try:
        job = get_db().run(
            lambda s: queue_import(
                s,
                kind=kind,
                mode=mode,
                dry_run=dry_run,
                stream=cast(BinaryIO, upload.stream) if upload is not None else None,
                file_name=upload.filename if upload is not None else None,
                requested_by=staff.email,
                # "api": uploaded over HTTP and run by the scheduler (see ImportJob.source).
                source="api",
                now=now(),
            )
        )
    except ConnectorError as error:
        return _bulk_page(
            status=error.http_status,
            values=values,
            errors=error_fields(error),
            error=error_message(error),
        )
    if dry_run:
        flash(i18n.gettext("File uploaded: its check is queued. Nothing will be saved."), "success")
    else:
        flash(i18n.gettext("File uploaded: its import is queued."), "success")
        checked = get_db().run(lambda s: _dry_run(s, values["checked"], now()), read_only=True)
        if checked is not None and checked["fileSha256"] != job.file_sha256:
            flash(
                i18n.gettext(
                    "This file is not the one the dry run checked: its rows were not "
                    "checked before this import."
                ),
                "info",
            )
    return redirect(url_for("admin.bulk_import", job_id=job.id))


@bp.get("/bulk/imports/<job_id>")
def bulk_import(job_id: str) -> tuple[str, int]:
    """An import's progress, counts and first errors; refreshed while it may still move."""
    moment = now()

    def load(session: Session) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        job = job_to_dict(get_job(session, job_id), moment)
        errors = [
            {
                "row": e.row_number,
                "column": e.column_name,
                "value": e.value,
                "code": e.code,
                "reason": row_reason(e.reason),
            }
            for e in iter_errors(session, job_id, limit=ERRORS_SHOWN)
        ]
        return job, errors

    job, errors = get_db().run(load, read_only=True)
    status = job["status"]
    # An interrupted upload is retried by the scheduler; one from the CLI waits for a person.
    refreshing = status in (QUEUED, RUNNING) or (status == INTERRUPTED and job["source"] != "cli")
    return render(
        "admin/bulk_import.html",
        job=job,
        errors=errors,
        errors_shown=ERRORS_SHOWN,
        refreshing=refreshing,
        refresh_seconds=REFRESH_SECONDS,
    )


@bp.get("/bulk/imports/<job_id>/errors")
def bulk_import_errors(job_id: str) -> WerkzeugResponse:
    """The error report, written with the uploaded file's own delimiter, so it opens in the
    spreadsheet that saved the file."""
    report = job_report(get_db(), job_id, translate=i18n.gettext)  # a 404 before streaming
    return csv_download(report, f"import-{job_id}-errors.csv")


def _export(
    kind: ExportKind, f: AccountFilter | InvoiceFilter, moment: datetime
) -> WerkzeugResponse:
    """Every row the list shows, streamed from one snapshot with constant memory, in the
    page's language: Spanish and Portuguese as their spreadsheets write (``sheet_formats``),
    English in the technical format."""
    lang = cast(Lang, i18n.current_language())
    pieces = export_text(get_db(), kind, f, lang=lang, now=moment)
    return csv_download(pieces, f"{kind}-{moment:%Y%m%d-%H%M%S}.csv")


@bp.get("/bulk/exports/invoices")
def export_invoices() -> WerkzeugResponse:
    """The invoices list as filtered (the list's own query string)."""
    return _export("invoices", invoice_filter_from_request(), now())


@bp.get("/bulk/exports/accounts")
def export_accounts() -> WerkzeugResponse:
    """The accounts list as filtered (search, status, "has overdue invoices")."""
    return _export("accounts", account_filter_from_request(store_today()), now())
