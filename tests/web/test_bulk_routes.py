"""The admin's Bulk pages: templates, uploads queued through the bulk service, the import's
page while it runs and after, the error report, and exports of the lists as filtered."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from connector.bulk.history import ImportFilePart, ImportJob
from connector.bulk.runner import run_queued_imports
from connector.credit import invoices as invoice_service
from connector.credit.accounts import open_account
from connector.credit.models import Account
from connector.db import Database
from tests.factories import Seeded, load_invoice
from tests.web.conftest import STAFF_EMAIL, csrf_of, sign_in, text_of

# One bad e-mail (row 3) and one bad tolerance (row 4), as a Spanish spreadsheet saves it.
ACCOUNTS = (
    "Email;Documento;Tipo de documento;Límite de crédito;Tasa de tolerancia\r\n"
    "ana@example.com;00000000191;CPF;1.234,56;0,05\r\n"
    "bad-email;00000000272;CPF;10;0\r\n"
    "bob@example.com;00000000353;CPF;10;7\r\n"
    "carl@example.com;00000000434;CPF;99,90;\r\n"
).encode("cp1252")


def upload(
    client: FlaskClient,
    content: bytes,
    *,
    filename: str = "clientes.csv",
    csrf: bool = True,
    **form: str,
) -> TestResponse:
    data: dict[str, Any] = {"kind": "accounts", "mode": "create", **form}
    data["file"] = (io.BytesIO(content), filename)
    if csrf:
        data["csrf_token"] = csrf_of(client)
    return client.post("/admin/bulk/imports", data=data, content_type="multipart/form-data")


def job_count(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(ImportJob)) or 0)


def job_id_of(response: TestResponse) -> str:
    match = re.fullmatch(r"/admin/bulk/imports/(\w+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def rows_of(response: TestResponse) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # spreadsheets read the accents right
    delimiter = ";" if ";" in text.splitlines()[0] else ","
    return list(csv.reader(io.StringIO(text[1:]), delimiter=delimiter))


def test_the_bulk_pages_need_a_signed_in_user(
    client: FlaskClient, staff: str, db: Database
) -> None:
    for path in (
        "/admin/bulk",
        "/admin/bulk/imports/x",
        "/admin/bulk/imports/x/errors",
        "/admin/bulk/template?kind=accounts",
        "/admin/bulk/exports/invoices",
        "/admin/bulk/exports/accounts",
    ):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/admin/login?next="), path
    signed_out = upload(client, ACCOUNTS)  # a valid token, but nobody signed in
    assert signed_out.status_code == 302
    assert signed_out.headers["Location"].startswith("/admin/login")
    assert job_count(db) == 0


def test_an_upload_without_the_csrf_token_is_refused(
    admin_client: FlaskClient, db: Database
) -> None:
    response = upload(admin_client, ACCOUNTS, csrf=False)
    assert response.status_code == 400
    assert "did not come from this site" in response.text
    assert job_count(db) == 0


def test_upload_watch_the_import_and_download_its_error_report(
    admin_client: FlaskClient, db: Database
) -> None:
    response = upload(admin_client, ACCOUNTS)
    assert response.status_code == 302
    job_id = job_id_of(response)
    queued = admin_client.get(response.headers["Location"])
    assert queued.status_code == 200
    assert "File uploaded: its import is queued." in queued.text
    assert '<meta http-equiv="refresh" content="2">' in queued.text  # refreshes while queued
    assert "Queued" in text_of(queued)
    with db.transaction() as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        assert (job.source, job.requested_by, job.kind, job.mode, job.dry_run) == (
            "api",
            STAFF_EMAIL,
            "accounts",
            "create",
            False,
        )

    assert run_queued_imports(db) == 1  # what the scheduler does every few seconds
    done = admin_client.get(f"/admin/bulk/imports/{job_id}")
    page = text_of(done)
    assert 'http-equiv="refresh"' not in done.text  # final: no more refreshing
    assert "Completed" in page
    assert re.search(r'<progress class="import-progress" max="4" value="4"', done.text)
    assert "4 of 4 rows (100 %)" in page
    assert re.search(r'data-count="created"><dt>created</dt><dd>2</dd>', done.text)
    assert re.search(r'data-count="failed"><dt>failed</dt><dd>2</dd>', done.text)
    assert "bad-email" in page and "Tasa de tolerancia" in page  # the first errors, shown
    assert "Download the error report (CSV)" in page
    with db.transaction() as session:
        assert session.get(Account, "00000000191_CPF") is not None

    report = admin_client.get(f"/admin/bulk/imports/{job_id}/errors")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    assert "attachment" in report.headers["Content-Disposition"]
    rows = rows_of(report)  # written with the file's own semicolons
    assert rows[0] == ["Row", "Column", "Value", "Code", "Reason"]
    assert [r[:4] for r in rows[1:]] == [
        ["3", "Email", "bad-email", "invalid_email"],
        ["4", "Tasa de tolerancia", "7", "invalid_rate"],
    ]

    history = text_of(admin_client.get("/admin/bulk"))
    assert "clientes.csv" in history and STAFF_EMAIL in history
    assert "Accounts · Create" in history and "Completed" in history
    assert admin_client.get("/admin/bulk/imports/nope").status_code == 404
    assert admin_client.get("/admin/bulk/imports/nope/errors").status_code == 404


def test_a_wrong_file_is_refused_next_to_the_file_field(
    admin_client: FlaskClient, db: Database
) -> None:
    workbook = upload(admin_client, b"PK\x03\x04 an xlsx", filename="clientes.xlsx")
    assert workbook.status_code == 400
    assert (
        'id="f-file-note">this is an Excel or OpenDocument workbook; save it as CSV and retry'
        in workbook.text
    )
    assert 'aria-invalid="true"' in workbook.text
    assert "The file cannot be imported: see why by the file field." in workbook.text
    missing = upload(admin_client, b"Mail,Limit2\r\nx,1\r\n")
    assert missing.status_code == 400
    assert 'id="f-file-note">the header (row 1) lacks Email, Credit limit' in missing.text
    no_file = upload(admin_client, b"", filename="")
    assert no_file.status_code == 400 and 'id="f-file-note">a CSV file is required' in no_file.text
    no_kind = upload(admin_client, ACCOUNTS, kind="")
    assert no_kind.status_code == 400 and 'id="f-kind-note">accounts or invoices' in no_kind.text
    admin_client.get("/language/es")
    spanish = upload(admin_client, b"\xd0\xcf\x11\xe0 an xls", filename="viejo.xls")
    assert "es un libro de Excel 97-2003; guárdelo como CSV" in spanish.text
    assert job_count(db) == 0
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ImportFilePart)) == 0


def test_a_dry_run_writes_nothing_and_offers_the_real_import(
    admin_client: FlaskClient, db: Database
) -> None:
    response = upload(admin_client, ACCOUNTS, dryRun="1")
    job_id = job_id_of(response)
    assert "Nothing will be saved." in admin_client.get(response.headers["Location"]).text
    run_queued_imports(db)
    page = admin_client.get(f"/admin/bulk/imports/{job_id}")
    assert "Dry run: nothing was saved." in page.text
    assert re.search(r'data-count="created"><dt>created</dt><dd>2</dd>', page.text)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 0
    link = f'href="/admin/bulk?checked={job_id}#upload"'
    assert link in page.text and "Import this file for real" in page.text

    # The form comes back with the dry run's settings; the file must be chosen again.
    again = admin_client.get(f"/admin/bulk?checked={job_id}")
    assert "To import clientes.csv for real, choose it again" in again.text
    assert f'name="checked" value="{job_id}"' in again.text
    assert re.search(r'id="f-kind-accounts" name="kind" value="accounts" checked', again.text)
    assert re.search(r'id="f-mode-create" name="mode" value="create" checked', again.text)
    assert not re.search(r'id="f-dryRun"[^>]* checked', again.text)

    same = upload(admin_client, ACCOUNTS, checked=job_id)
    followed = admin_client.get(same.headers["Location"])
    assert "its import is queued" in followed.text
    assert "not the one the dry run checked" not in followed.text
    other = upload(
        admin_client, ACCOUNTS + b"dan@example.com;00000000515;CPF;1;\r\n", checked=job_id
    )
    assert "not the one the dry run checked" in admin_client.get(other.headers["Location"]).text
    run_queued_imports(db)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 3


def test_an_invoice_file_settles_invoices_and_always_updates(
    admin_client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed()
    content = f"Id,Status\r\n{seeded.invoice_ids[0]},Paid\r\n".encode()
    response = upload(admin_client, content, kind="invoices", mode="create")
    job_id = job_id_of(response)
    with db.transaction() as session:
        job = session.get(ImportJob, job_id)
        assert job is not None and job.mode == "update"
    run_queued_imports(db)
    assert load_invoice(db, seeded.invoice_ids[0]).status == "Paid"
    assert "Invoices · Update" in text_of(admin_client.get(f"/admin/bulk/imports/{job_id}"))


def test_templates_in_each_language(admin_client: FlaskClient) -> None:
    english = admin_client.get("/admin/bulk/template?kind=accounts&lang=en")
    assert english.status_code == 200 and english.mimetype == "text/csv"
    assert 'filename="accounts-template-en.csv"' in english.headers["Content-Disposition"]
    assert english.data == (
        b"\xef\xbb\xbfEmail,Document,Document Type,Credit limit (R$),Tolerance (fraction or %),"
        b"Company name\r\n"
        b"example@example.com,00000000000,Other,1500.00,10%,Example Ltd.\r\n"
    )
    spanish = admin_client.get("/admin/bulk/template?kind=accounts&lang=es")
    assert rows_of(spanish)[0][:2] == ["Email", "Documento"]
    assert rows_of(spanish)[0][4] == "Tolerancia (fracción o %)"
    invoices = admin_client.get("/admin/bulk/template?kind=invoices&lang=pt")
    assert rows_of(invoices)[0][:2] == ["Id", "Id legível"]
    assert admin_client.get("/admin/bulk/template?kind=nope").status_code == 404
    assert admin_client.get("/admin/bulk/template?kind=accounts&lang=fr").status_code == 404
    admin_client.get("/language/pt")
    page = admin_client.get("/admin/bulk")
    assert '<option value="pt" selected>' in page.text  # the page's language by default


def test_exports_honour_the_lists_filters_and_escape_formulas(
    admin_client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    old = seed(email="late@example.com", installments=2, settled_days_ago=45)
    fresh = seed(email="fresh@example.com")
    with db.transaction() as session:
        invoice_service.update_invoice(
            session, fresh.invoice_ids[0], observation='=HYPERLINK("http://x")'
        )
        open_account(session, email="+1@example.com", credit_limit_cents=150)

    listed = admin_client.get(
        f"/admin/invoices?status=Overdue&page=2&sort=due&account={old.account_id}"
    )
    export_href = re.search(r'href="([^"]*/bulk/exports/invoices[^"]*)"', listed.text)
    assert export_href is not None
    href = export_href.group(1).replace("&amp;", "&")
    assert href == f"/admin/bulk/exports/invoices?status=Overdue&account={old.account_id}"
    overdue = admin_client.get(href)
    assert overdue.status_code == 200 and overdue.is_streamed
    rows = rows_of(overdue)
    assert rows[0][:3] == ["Id", "Friendly id", "Account id"]
    assert [r[0] for r in rows[1:]] == [old.invoice_ids[0]]  # the second one is not yet due

    everything = rows_of(admin_client.get("/admin/bulk/exports/invoices"))
    assert len(everything) == 1 + 3
    column = everything[0].index("Observation")
    observation = {r[0]: r[column] for r in everything[1:]}
    assert observation[fresh.invoice_ids[0]] == '\'=HYPERLINK("http://x")'

    accounts_page = admin_client.get("/admin/accounts?q=late&overdue=1")
    assert 'href="/admin/bulk/exports/accounts?q=late&amp;overdue=1"' in accounts_page.text
    late = rows_of(admin_client.get("/admin/bulk/exports/accounts?q=late&overdue=1"))
    assert [r[0] for r in late[1:]] == ["late@example.com"]
    assert rows_of(admin_client.get("/admin/bulk/exports/accounts?q=fresh&overdue=1"))[1:] == []
    open_ones = rows_of(admin_client.get("/admin/bulk/exports/accounts"))
    assert sorted(r[0] for r in open_ones[1:]) == [
        "'+1@example.com",  # escaped: a spreadsheet would run it
        "fresh@example.com",
        "late@example.com",
    ]
    account_page = admin_client.get(f"/admin/accounts/{old.account_id}")
    assert f'href="/admin/bulk/exports/invoices?account={old.account_id}"' in account_page.text

    admin_client.get("/language/es")  # Spanish spreadsheets: semicolons and decimal commas
    spanish = admin_client.get("/admin/bulk/exports/accounts?q=fresh").get_data(as_text=True)
    # ... and the CPF as people there write it (the English export keeps the stored form)
    assert spanish.splitlines()[1].startswith("fresh@example.com;000.000.002-72;CPF;1000,00;0%;")


def test_staff_uploads_may_exceed_the_apps_request_limit(
    app: Flask, client: FlaskClient, staff: str, db: Database
) -> None:
    sign_in(client)
    app.config["MAX_CONTENT_LENGTH"] = 200  # the JSON API's limit; a spreadsheet is bigger
    response = upload(client, ACCOUNTS * 3)
    assert response.status_code == 302
    assert job_count(db) == 1
    client.post("/admin/logout", data={"csrf_token": csrf_of(client)})
    assert upload(client, ACCOUNTS * 3).status_code == 413  # not for a stranger
