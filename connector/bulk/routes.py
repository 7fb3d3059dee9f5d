"""HTTP endpoints of the bulk feature, under ``/api/creditcontrol/bulk``.

```
GET  /templates/{accounts|invoices}[?lang=en|es|pt&delimiter=comma|semicolon]   read
POST /imports/accounts   multipart: file, mode=create|update, dryRun=true|false  write:accounts
POST /imports/invoices   multipart: file, dryRun=true|false                      write:invoices
GET  /imports[?kind=accounts|invoices&page=1&perPage=50]                           read
GET  /imports/{id}                                                                 read
GET  /imports/{id}/errors[?delimiter=...]                                          read
GET  /exports/accounts[?status=Open|Closed|all&email=&document=&delimiter=]        read
GET  /exports/invoices[?status=&creditAccountId=&createdDateFrom=...&delimiter=]   read
```

An upload is checked at once (a workbook instead of a CSV, a missing column: 400), stored
in the database and queued (202); the scheduler process runs it, and the client polls
``/imports/{id}`` for progress and counts, then fetches the error report.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

from flask import Blueprint, Flask, Response, g, jsonify, request, stream_with_context, url_for

from connector.app import get_db
from connector.auth import READ, WRITE_ACCOUNTS, WRITE_INVOICES, require
from connector.bulk.csvio import FileFacts, FileProblem, check_not_a_workbook, open_sheet
from connector.bulk.export import (
    account_filter,
    encoded,
    export_text,
    invoice_filter,
    parse_delimiter,
)
from connector.bulk.history import (
    PART_BYTES,
    count_jobs,
    create_job,
    get_job,
    iter_errors,
    job_to_dict,
    list_jobs,
    store_upload,
)
from connector.bulk.report import report_text
from connector.bulk.runner import DEFAULT_CHUNK_ROWS, check_request, columns_for
from connector.bulk.templates import KINDS, LANGS, template_text
from connector.errors import NotFound, ValidationError
from connector.ids import utcnow

MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # a million-row file is about 60 MB

bp = Blueprint("bulk", __name__, url_prefix="/api/creditcontrol/bulk")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _csv_response(pieces: Iterator[str], filename: str) -> Response:
    response = Response(stream_with_context(encoded(pieces)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _query(*allowed_extra: str) -> dict[str, str]:
    return {k: v for k, v in request.args.items() if k not in allowed_extra}


@bp.get("/templates/<kind>")
@require(READ)
def template(kind: str) -> Response:
    if kind not in KINDS:
        raise NotFound(f"no template {kind!r}", code="template_not_found")
    lang = request.args.get("lang", "en")
    if lang not in LANGS:
        raise ValidationError("unknown language", fields={"lang": "en, es or pt"})
    delimiter = (
        parse_delimiter(request.args["delimiter"]) if request.args.get("delimiter") else None
    )
    return _csv_response(
        template_text(kind, lang, delimiter),
        f"{kind}-template.csv",
    )


def _flag(name: str) -> bool:
    raw = (request.form.get(name) or request.args.get(name) or "false").strip().lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise ValidationError(f"invalid {name}", fields={name: "true or false"})
    return raw in ("true", "1", "yes")


def _upload(kind: str, mode: str) -> tuple[Response, int, dict[str, str]]:
    """Check the uploaded file's header, store it and queue its import."""
    check_request(kind, mode)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError("no file uploaded", fields={"file": "a CSV file is required"})
    dry_run = _flag("dryRun")
    stream = cast(BinaryIO, upload.stream)
    head = stream.read(PART_BYTES)
    try:
        check_not_a_workbook(head[:8])
    except FileProblem as problem:
        raise ValidationError(
            problem.message, code="invalid_file", fields={"file": problem.message}
        ) from None
    stream.seek(0)
    db = get_db()
    with db.transaction() as session:
        job = create_job(
            session,
            kind=kind,
            mode=mode,
            dry_run=dry_run,
            source="api",
            requested_by=f"api:{g.principal.key}",
            file_name=upload.filename,
            facts=FileFacts("utf-8", 0, "", 0),
            chunk_size=DEFAULT_CHUNK_ROWS,
        )
        facts = store_upload(session, job.id, stream)
        try:
            # The header is in the first part; check it now so a wrong file is a 400.
            open_sheet(io.BytesIO(head), facts.encoding, columns_for(kind, mode))
        except FileProblem as problem:
            raise ValidationError(
                problem.message, code="invalid_file", fields={"file": problem.message}
            ) from None
        job.file_size, job.file_sha256, job.encoding = facts.size, facts.sha256, facts.encoding
        job.rows_total = max(facts.lines - 1, 0)
        session.flush()
        body = _job_body(job)
    location = url_for("bulk.show_import", job_id=job.id)
    return jsonify(body), 202, {"Location": location}


def _job_body(job: Any) -> dict[str, Any]:
    body = job_to_dict(job, utcnow())
    body["links"] = {
        "self": url_for("bulk.show_import", job_id=job.id),
        "errors": url_for("bulk.import_errors", job_id=job.id),
    }
    return body


@bp.post("/imports/accounts")
@require(WRITE_ACCOUNTS)
def import_accounts() -> tuple[Response, int, dict[str, str]]:
    request.max_content_length = MAX_UPLOAD_BYTES  # before anything reads the body
    mode = (request.form.get("mode") or request.args.get("mode") or "").strip().lower()
    return _upload("accounts", mode)


@bp.post("/imports/invoices")
@require(WRITE_INVOICES)
def import_invoices() -> tuple[Response, int, dict[str, str]]:
    request.max_content_length = MAX_UPLOAD_BYTES  # before anything reads the body
    mode = (request.form.get("mode") or request.args.get("mode") or "update").strip().lower()
    return _upload("invoices", mode)


def _positive(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ValidationError(
            f"invalid {name}", fields={name: f"a whole number from 1 to {maximum}"}
        )
    return int(raw)


@bp.get("/imports")
@require(READ)
def list_imports() -> Response:
    kind = request.args.get("kind") or None
    if kind is not None and kind not in KINDS:
        raise ValidationError("unknown kind", fields={"kind": "accounts or invoices"})
    page = _positive("page", 1, 10**6)
    per_page = _positive("perPage", 50, 500)
    with get_db().snapshot() as session:  # polling never waits for a chunk's write lock
        jobs = list_jobs(session, kind=kind, offset=(page - 1) * per_page, limit=per_page)
        total = count_jobs(session, kind=kind)
        data = [_job_body(job) for job in jobs]
    return jsonify({"data": data, "paging": {"page": page, "perPage": per_page, "total": total}})


@bp.get("/imports/<job_id>")
@require(READ)
def show_import(job_id: str) -> Response:
    with get_db().snapshot() as session:
        return jsonify(_job_body(get_job(session, job_id)))


@bp.get("/imports/<job_id>/errors")
@require(READ)
def import_errors(job_id: str) -> Response:
    db = get_db()
    delimiter = parse_delimiter(request.args.get("delimiter"))
    with db.snapshot() as session:
        get_job(session, job_id)  # a 404 before the stream starts

    def pieces() -> Iterator[str]:
        with db.snapshot() as session:
            yield from report_text(iter_errors(session, job_id), delimiter=delimiter)

    return _csv_response(pieces(), f"import-{job_id}-errors.csv")


@bp.get("/exports/accounts")
@require(READ)
def export_accounts() -> Response:
    delimiter = parse_delimiter(request.args.get("delimiter"))
    f = account_filter(_query("delimiter"))
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return _csv_response(
        export_text(get_db(), "accounts", f, delimiter=delimiter), f"accounts-{stamp}.csv"
    )


@bp.get("/exports/invoices")
@require(READ)
def export_invoices() -> Response:
    delimiter = parse_delimiter(request.args.get("delimiter"))
    f = invoice_filter(_query("delimiter"))
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return _csv_response(
        export_text(get_db(), "invoices", f, delimiter=delimiter), f"invoices-{stamp}.csv"
    )
