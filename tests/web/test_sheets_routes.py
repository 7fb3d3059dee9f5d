"""The admin's Bulk pages per language: exports, instructions and the error report in
the page's language (issue 16, point 6)."""

from __future__ import annotations

from flask.testing import FlaskClient

from connector.bulk.runner import run_queued_imports
from connector.credit.accounts import open_account
from connector.credit.identity import DOCUMENT_WRONG_CHECK_DIGITS
from connector.db import Database
from connector.web import i18n
from tests.factories import NOW
from tests.web.test_bulk_routes import job_id_of, rows_of, upload

PT_HEADER = "Email;Documento;Tipo de documento;Limite de crédito (R$);Tolerância (fração ou %)\r\n"


def test_the_admin_exports_in_the_pages_language(admin_client: FlaskClient, db: Database) -> None:
    with db.transaction() as session:
        open_account(session, email="ana@example.com", credit_limit_cents=123_456, now=NOW)
    admin_client.get("/language/pt")
    rows = rows_of(admin_client.get("/admin/bulk/exports/accounts"))
    assert rows[0][:4] == ["Email", "Documento", "Tipo de documento", "Limite de crédito (R$)"]
    ana = dict(zip(rows[0], rows[1], strict=True))
    assert ana["Limite de crédito (R$)"] == "1234,56" and ana["Status"] == "Aberta"
    assert ana["Criada em"] == "02/03/2026 09:00"
    admin_client.get("/language/en")
    english = rows_of(admin_client.get("/admin/bulk/exports/accounts"))
    assert english[0][3] == "Credit limit" and english[1][3] == "1234.56"


def test_the_bulk_page_names_the_files_words_and_links_its_templates(
    admin_client: FlaskClient,
) -> None:
    admin_client.get("/language/es")
    page = admin_client.get("/admin/bulk").text
    assert "/admin/bulk/template?kind=accounts&amp;lang=es" in page
    assert "Pagado" in page and "Estado" in page and "1234,56" in page and "31/12/2026" in page
    admin_client.get("/language/en")
    page = admin_client.get("/admin/bulk").text
    assert "Paid" in page and "1234.56" in page and "2026-12-31" in page


def test_the_error_report_speaks_the_pages_language(
    admin_client: FlaskClient, db: Database
) -> None:
    content = (PT_HEADER + "ana@example.com;;;100;5\r\n").encode()
    admin_client.get("/language/pt")
    job_id = job_id_of(upload(admin_client, content))
    assert run_queued_imports(db) == 1
    rows = rows_of(admin_client.get(f"/admin/bulk/imports/{job_id}/errors"))
    with admin_client.application.test_request_context():
        titles = [i18n.translate("pt", t) for t in ("Row", "Column", "Value", "Reason")]
    assert [rows[0][0], rows[0][1], rows[0][2], rows[0][4]] == titles
    assert titles[0] != "Row"  # the catalog has them: the header is Portuguese
    # A rate's reason, known to the catalog, is translated; the column is the file's.
    assert rows[1][:3] == ["2", "Tolerância (fração ou %)", "5"]
    assert rows[1][4].startswith("5 pode ser lido como 500 %")
    page = admin_client.get(f"/admin/bulk/imports/{job_id}").text
    assert "5 pode ser lido como 500 %" in page


def test_a_documents_check_digits_reason_is_shown_in_the_pages_language(
    admin_client: FlaskClient, db: Database
) -> None:
    content = (PT_HEADER + "ana@example.com;529.982.247-24;CPF;100;0\r\n").encode()
    admin_client.get("/language/es")  # a Portuguese file, the page in Spanish
    job_id = job_id_of(upload(admin_client, content))
    assert run_queued_imports(db) == 1
    rows = rows_of(admin_client.get(f"/admin/bulk/imports/{job_id}/errors"))
    assert rows[1][:4] == ["2", "Documento", "529.982.247-24", "invalid_document"]
    with admin_client.application.test_request_context():
        reason = i18n.translate("es", DOCUMENT_WRONG_CHECK_DIGITS, kind="CPF")
    assert rows[1][4] == reason and "CPF" in reason and "check digits" not in reason
    assert reason in admin_client.get(f"/admin/bulk/imports/{job_id}").text
