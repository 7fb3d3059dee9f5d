"""The HTTP flow: upload, poll, report; templates, exports, history, permissions."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from connector.bulk.runner import run_queued_imports
from connector.credit.accounts import open_account
from connector.db import Database
from tests.factories import NOW

BASE = "/api/creditcontrol/bulk"
ACCOUNTS = (
    "Email;Documento;Tipo de documento;Límite de crédito;Tasa de tolerancia\r\n"
    "ana@example.com;00000000191;CPF;1.234,56;0,05\r\n"
    "bad-email;00000000272;CPF;10;0\r\n"
    "bob@example.com;00000000353;CPF;10;7\r\n"
    "\r\n"
    "carl@example.com;00000000434;CPF;99,90;\r\n"
)


def upload(
    client: FlaskClient,
    headers: dict[str, str],
    content: bytes,
    *,
    kind: str = "accounts",
    filename: str = "clientes.csv",
    **form: str,
) -> Any:
    data: dict[str, Any] = {"file": (io.BytesIO(content), filename), **form}
    return client.post(
        f"{BASE}/imports/{kind}", data=data, headers=headers, content_type="multipart/form-data"
    )


def test_upload_poll_report(
    client: FlaskClient, admin_headers: dict[str, str], db: Database
) -> None:
    response = upload(client, admin_headers, ACCOUNTS.encode("cp1252"), mode="create")
    assert response.status_code == 202, response.json
    job = response.json
    assert job["status"] == "queued" and job["kind"] == "accounts" and job["mode"] == "create"
    assert (job["fileName"], job["encoding"], job["dryRun"]) == ("clientes.csv", "cp1252", False)
    assert job["requestedBy"] == "api:test-admin-key"
    assert response.headers["Location"] == job["links"]["self"]

    assert run_queued_imports(db) == 1  # what the scheduler process does every few seconds
    assert run_queued_imports(db) == 0  # and only once

    polled = client.get(job["links"]["self"], headers=admin_headers).json
    assert polled["status"] == "completed"
    assert polled["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "failed": 2}
    assert polled["progress"] == {"rowsDone": 4, "rowsTotal": 4, "percent": 100}
    assert polled["delimiter"] == ";" and polled["finishedAt"] is not None

    report = client.get(polled["links"]["errors"], headers=admin_headers)
    assert report.status_code == 200
    assert report.mimetype == "text/csv"
    assert "attachment" in report.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(report.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Row", "Column", "Value", "Code", "Reason"]
    assert [(r[0], r[1], r[2], r[3]) for r in rows[1:]] == [
        ("3", "Email", "bad-email", "invalid_email"),
        ("4", "Tasa de tolerancia", "7", "invalid_rate"),
    ]
    history = client.get(f"{BASE}/imports", headers=admin_headers).json
    assert [j["id"] for j in history["data"]] == [job["id"]]
    assert history["paging"] == {"page": 1, "perPage": 50, "total": 1}


def test_dry_run_upload_and_invoice_upload(
    client: FlaskClient, admin_headers: dict[str, str], db: Database
) -> None:
    response = upload(client, admin_headers, ACCOUNTS.encode(), mode="create", dryRun="true")
    assert response.status_code == 202 and response.json["dryRun"] is True
    run_queued_imports(db)
    done = client.get(response.json["links"]["self"], headers=admin_headers).json
    assert done["counts"]["created"] == 2
    exported = client.get(f"{BASE}/exports/accounts", headers=admin_headers)
    assert exported.get_data(as_text=True).count("\r\n") == 1  # the header only: nothing written

    invoices = upload(client, admin_headers, b"Id,Status\r\nnope,Paid\r\n", kind="invoices")
    assert invoices.status_code == 202 and invoices.json["mode"] == "update"
    run_queued_imports(db)
    done = client.get(invoices.json["links"]["self"], headers=admin_headers).json
    assert done["counts"]["failed"] == 1


def test_a_wrong_file_is_refused_at_once(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    missing = upload(client, admin_headers, b"Mail,Limit2\r\nx,1\r\n", mode="create")
    assert missing.status_code == 400
    assert missing.json["error"]["code"] == "invalid_file"
    assert "Email, Credit limit" in missing.json["error"]["message"]
    workbook = upload(client, admin_headers, b"PK\x03\x04xlsx", mode="create", filename="a.xlsx")
    assert workbook.status_code == 400 and "save it as CSV" in workbook.json["error"]["message"]
    no_mode = upload(client, admin_headers, ACCOUNTS.encode())
    assert no_mode.status_code == 400 and "mode" in no_mode.json["error"]["fields"]
    no_file = client.post(f"{BASE}/imports/accounts?mode=create", headers=admin_headers)
    assert no_file.status_code == 400 and "file" in no_file.json["error"]["fields"]
    bad_flag = upload(client, admin_headers, ACCOUNTS.encode(), mode="create", dryRun="maybe")
    assert bad_flag.status_code == 400
    assert client.get(f"{BASE}/imports", headers=admin_headers).json["paging"]["total"] == 0


def test_permissions(client: FlaskClient, headers_for: Callable[[str], dict[str, str]]) -> None:
    reader = headers_for("read")
    invoices = headers_for("invoices")
    accounts = headers_for("accounts")
    assert client.get(f"{BASE}/imports").status_code == 401
    assert upload(client, reader, ACCOUNTS.encode(), mode="create").status_code == 403
    assert upload(client, invoices, ACCOUNTS.encode(), mode="create").status_code == 403
    assert upload(client, accounts, b"Id,Status\r\nx,Paid\r\n", kind="invoices").status_code == 403
    assert upload(client, accounts, ACCOUNTS.encode(), mode="create").status_code == 202
    assert upload(client, invoices, b"Id,Status\r\nx,Paid\r\n", kind="invoices").status_code == 202
    for path in ("/imports", "/templates/accounts", "/exports/accounts", "/exports/invoices"):
        assert client.get(BASE + path, headers=reader).status_code == 200, path


def test_templates(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    english = client.get(f"{BASE}/templates/accounts", headers=admin_headers)
    # The header names each number's unit (the store's currency); an example row follows.
    assert english.data == (
        b"\xef\xbb\xbfEmail,Document,Document Type,Credit limit (R$),Tolerance (fraction or %),"
        b"Company name\r\n"
        b"example@example.com,00000000000,Other,1500.00,10%,Example Ltd.\r\n"
    )
    spanish = client.get(f"{BASE}/templates/accounts?lang=es", headers=admin_headers)
    assert spanish.get_data(as_text=True).lstrip("\ufeff").startswith("Email;Documento;")
    invoices = client.get(f"{BASE}/templates/invoices", headers=admin_headers)
    assert invoices.get_data(as_text=True).lstrip("\ufeff").startswith("Id,Friendly id,")
    assert client.get(f"{BASE}/templates/nope", headers=admin_headers).status_code == 404
    assert (
        client.get(f"{BASE}/templates/accounts?lang=fr", headers=admin_headers).status_code == 400
    )


def test_exports_stream_csv_with_filters(
    client: FlaskClient, admin_headers: dict[str, str], db: Database
) -> None:
    with db.transaction() as session:
        open_account(session, email="+1@example.com", credit_limit_cents=150, now=NOW)
    response = client.get(f"{BASE}/exports/accounts?delimiter=semicolon", headers=admin_headers)
    assert response.status_code == 200 and response.is_streamed
    text = response.get_data(as_text=True).lstrip("\ufeff")
    assert text.splitlines()[1].startswith("'+1@example.com;;;1,50;0%;")
    invoices = client.get(f"{BASE}/exports/invoices?status=Overdue", headers=admin_headers)
    assert invoices.status_code == 200
    bad = client.get(f"{BASE}/exports/invoices?status=Late", headers=admin_headers)
    assert bad.status_code == 400 and "status" in bad.json["error"]["fields"]
    unknown = client.get(f"{BASE}/exports/accounts?colour=red", headers=admin_headers)
    assert unknown.status_code == 400
    # In Portuguese: the spreadsheet's headers, words, decimal commas and semicolons.
    portuguese = client.get(f"{BASE}/exports/accounts?lang=pt", headers=admin_headers)
    header, row = portuguese.get_data(as_text=True).lstrip("\ufeff").splitlines()[:2]
    assert header.startswith("Email;Documento;Tipo de documento;Limite de crédito (R$);")
    assert row.startswith("'+1@example.com;;;1,50;0%;") and ";Aberta;" in row
    french = client.get(f"{BASE}/exports/accounts?lang=fr", headers=admin_headers)
    assert french.status_code == 400 and "lang" in french.json["error"]["fields"]


def test_unknown_import_is_404(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    assert client.get(f"{BASE}/imports/nope", headers=admin_headers).status_code == 404
    assert client.get(f"{BASE}/imports/nope/errors", headers=admin_headers).status_code == 404


def test_uploads_may_exceed_the_apps_request_limit(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 100  # the JSON API's limit; a spreadsheet is bigger
    response = upload(client, admin_headers, ACCOUNTS.encode() * 3, mode="create")
    assert response.status_code == 202
