"""Bulk CSV over HTTP, under ``/api/creditcontrol/bulk``: templates, uploads, progress,
error reports and streamed exports.

An upload is checked at once (a workbook instead of a CSV, a missing column: 400), stored
in the database and queued (202 with a ``Location``); the scheduler process runs it, and
the client polls ``/bulk/imports/{id}`` for progress and counts, then fetches the error
report. Exports take the invoice search's own filters, parsed by the same schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from flask import Response, g, jsonify, request, stream_with_context, url_for
from sqlalchemy.orm import Session

from connector.access.principals import READ, WRITE_ACCOUNTS, WRITE_INVOICES
from connector.api.routes import query_args, route
from connector.api.schemas import bulk as s
from connector.bulk.export import ExportKind, encoded, export_text, parse_delimiter
from connector.bulk.filters import (
    AccountExportQuery,
    InvoiceExportQuery,
    account_export_filter,
    invoice_export_filter,
)
from connector.bulk.history import count_jobs, get_job, job_to_dict, list_jobs
from connector.bulk.report import job_report
from connector.bulk.sheet_formats import template_text
from connector.bulk.templates import KINDS, LANGS
from connector.bulk.uploads import MAX_UPLOAD_BYTES, queue_import
from connector.context import get_db, now
from connector.credit.account_search import AccountFilter
from connector.credit.invoice_search import InvoiceFilter
from connector.credit.settings import StoreSettings, load_store_settings
from connector.errors import Code, NotFound, ValidationError
from connector.wire import load

TAG = "Bulk"


def _csv_response(pieces: Iterator[str], filename: str) -> Response:
    response = Response(stream_with_context(encoded(pieces)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@route(
    "GET",
    "/bulk/templates/<kind>",
    summary="Download a CSV template",
    tag=TAG,
    permission=READ,
    query=s.TemplateQuery,
    csv=True,
    transaction=None,
    description="kind is accounts or invoices; lang=es|pt gives localized headers and "
    "words, semicolons, dd/mm/yyyy dates and decimal commas. The header names each "
    "number's unit; the second row is an example, which imports skip.",
)
def template(kind: str) -> Response:
    q = query_args(s.TemplateQuery)
    if kind not in KINDS:
        raise NotFound("no template {kind}", code=Code.TEMPLATE_NOT_FOUND, kind=repr(kind))
    delimiter = parse_delimiter(q["delimiter"]) if q.get("delimiter") else None
    currency = get_db().run(load_store_settings, read_only=True).currency
    pieces = template_text(kind, q["lang"], delimiter, currency=currency)
    return _csv_response(pieces, f"{kind}-template.csv")


def _form(schema: type[s.UploadForm]) -> dict[str, Any]:
    """The multipart fields and the file, read strictly."""
    request.max_content_length = MAX_UPLOAD_BYTES  # before anything reads the body
    data: dict[str, Any] = request.form.to_dict(flat=True)
    if "file" in request.files:
        data["file"] = request.files["file"]
    return load(schema, data, "form")


def _upload(
    session: Session, kind: str, form: dict[str, Any]
) -> tuple[Response, int, dict[str, str]]:
    """Queue the uploaded file's import (checked and stored by ``queue_import``)."""
    upload = form["file"]
    job = queue_import(
        session,
        kind=kind,
        mode=form["mode"],
        dry_run=form["dryRun"],
        stream=getattr(upload, "stream", None),
        file_name=getattr(upload, "filename", None),
        requested_by=f"api:{g.principal.key}",
        source="api",
        now=now(),
    )
    body = _job_body(job)
    return jsonify(body), 202, {"Location": url_for("api.show_import", job_id=job.id)}


def _job_body(job: Any) -> dict[str, Any]:
    body = job_to_dict(job, now())
    body["links"] = {
        "self": url_for("api.show_import", job_id=job.id),
        "errors": url_for("api.import_errors", job_id=job.id),
    }
    return dict(s.ImportJobOut().dump(body))


UPLOAD_HELP = (
    "Answers 202 with the queued import and its Location; poll it for progress and counts."
)


@route(
    "POST",
    "/bulk/imports/accounts",
    summary="Upload an account file (create or update)",
    tag=TAG,
    permission=WRITE_ACCOUNTS,
    form=s.AccountsUploadForm,
    response=s.ImportJobOut,
    success=202,
    description=UPLOAD_HELP,
)
def import_accounts(session: Session) -> tuple[Response, int, dict[str, str]]:
    return _upload(session, "accounts", _form(s.AccountsUploadForm))


@route(
    "POST",
    "/bulk/imports/invoices",
    summary="Upload an invoice file (status, payment link, observation)",
    tag=TAG,
    permission=WRITE_INVOICES,
    form=s.InvoicesUploadForm,
    response=s.ImportJobOut,
    success=202,
    description=UPLOAD_HELP,
)
def import_invoices(session: Session) -> tuple[Response, int, dict[str, str]]:
    return _upload(session, "invoices", _form(s.InvoicesUploadForm))


@route(
    "GET",
    "/bulk/imports",
    summary="The import history",
    tag=TAG,
    permission=READ,
    query=s.ImportListQuery,
    response=s.ImportPage,
)
def list_imports(session: Session) -> Response:
    # A snapshot, as every GET: polling never waits for an import chunk's write lock.
    q = query_args(s.ImportListQuery)
    page, per_page = q["page"], q["perPage"]
    jobs = list_jobs(session, kind=q.get("kind"), offset=(page - 1) * per_page, limit=per_page)
    total = count_jobs(session, kind=q.get("kind"))
    data = [_job_body(job) for job in jobs]
    return jsonify({"data": data, "paging": {"page": page, "perPage": per_page, "total": total}})


@route(
    "GET",
    "/bulk/imports/<job_id>",
    summary="An import's status, progress and counts",
    tag=TAG,
    permission=READ,
    response=s.ImportJobOut,
)
def show_import(session: Session, job_id: str) -> Response:
    return jsonify(_job_body(get_job(session, job_id)))


@route(
    "GET",
    "/bulk/imports/<job_id>/errors",
    summary="An import's error report (Row, Column, Value, Code, Reason)",
    tag=TAG,
    permission=READ,
    query=s.ReportQuery,
    csv=True,
    transaction=None,
)
def import_errors(job_id: str) -> Response:
    delimiter = parse_delimiter(query_args(s.ReportQuery).get("delimiter"))
    report = job_report(get_db(), job_id, delimiter=delimiter)  # a 404 before the stream
    return _csv_response(report, f"import-{job_id}-errors.csv")


@route(
    "GET",
    "/bulk/exports/accounts",
    summary="Export accounts as CSV, streamed",
    tag=TAG,
    permission=READ,
    query=AccountExportQuery,
    csv=True,
    transaction=None,
    description="The first five columns are the accounts template's, so the file "
    "re-imports in update mode.",
)
def export_accounts() -> Response:
    return _export("accounts", account_export_filter)


@route(
    "GET",
    "/bulk/exports/invoices",
    summary="Export (filtered) invoices as CSV, streamed",
    tag=TAG,
    permission=READ,
    query=InvoiceExportQuery,
    csv=True,
    transaction=None,
    description="The invoice search's filters (from/to are ignored: every matching row "
    "is exported). Edit Status, Payment link or Observation and upload it back.",
)
def export_invoices() -> Response:
    return _export("invoices", invoice_export_filter)


def _export(
    kind: ExportKind,
    read_filter: Callable[[Mapping[str, str], StoreSettings], AccountFilter | InvoiceFilter],
) -> Response:
    """Stream an export filtered by the query string, in its ``lang`` (English: the
    technical format), separated by its ``delimiter`` (by default the language's)."""
    params = request.args.to_dict(flat=True)
    given = params.pop("delimiter", None)
    lang = params.pop("lang", None) or "en"
    if lang not in LANGS:
        raise ValidationError("unknown language", fields={"lang": "en, es or pt"})
    delimiter = parse_delimiter(given) if given else None
    f = read_filter(params, get_db().run(load_store_settings, read_only=True))
    moment = now()
    pieces = export_text(get_db(), kind, f, delimiter=delimiter, lang=lang, now=moment)
    return _csv_response(pieces, f"{kind}-{moment:%Y%m%d-%H%M%S}.csv")
