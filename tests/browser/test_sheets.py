"""Spreadsheets per language in a real browser: the Bulk page in Spanish and Portuguese
names the file's words and forms, links its language's templates, and a Portuguese file
imports with the page in Spanish (issue 16, point 6)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from connector.db import Database
from tests.browser.conftest import LiveServer, screenshots
from tests.browser.test_bulk import import_worker
from tests.web.conftest import STAFF_EMAIL, STAFF_PASSWORD

PT_FILE = (
    "\ufeffEmail;Documento;Tipo de documento;Limite de crédito (R$);Tolerância (fração ou %)\r\n"
    "exemplo@example.com;00000000000;Outro;1500,00;10%\r\n"
    "ana@loja.example;;;1.234,56;12,5%\r\n"
    "bia@loja.example;;;12.34.5;0\r\n"
).encode()

WORDS = {
    "es": ("Estado", "Pagado", "Límite de crédito (R$)", "Subir"),
    "pt": ("Status", "Pago", "Limite de crédito (R$)", "Enviar"),
}


def sign_in(page: Any, server: LiveServer, locale: str) -> None:
    """Sign in by the fields' names: the labels are in the browser's language."""
    page.goto(f"{server.base}/admin/login")
    page.locator("input[name=email]").fill(STAFF_EMAIL)
    page.locator("input[name=password]").fill(STAFF_PASSWORD)
    page.locator("form button[type=submit]").first.click()
    expect(page).not_to_have_url(re.compile(r"/admin/login"))
    expect(page.locator("html")).to_have_attribute("lang", re.compile(locale))


@pytest.mark.parametrize(("locale", "lang"), [("es-AR", "es"), ("pt-BR", "pt")])
def test_the_bulk_page_speaks_the_merchants_spreadsheet(
    browser: Any, live_server: LiveServer, staff: str, db: Database, locale: str, lang: str
) -> None:
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, live_server, lang)
        page.goto(f"{live_server.base}/admin/bulk")
        status, paid, limit, _upload = WORDS[lang]
        rules = page.locator("#sheet-rules")
        # The merchant's words: the status column and its word for paid, from the table.
        expect(rules).to_contain_text(f"{paid}")
        expect(rules).to_contain_text(status)
        expect(rules).to_contain_text("31/12/2026")
        expect(rules).to_contain_text("1234,56")
        expect(page.locator("#template-accounts")).to_have_attribute(
            "href", re.compile(rf"kind=accounts&lang={lang}|lang={lang}&kind=accounts")
        )
        screenshots(page, f"sheets-bulk-{lang}")

        # The template of the page's language: its units and one example row.
        with page.expect_download() as download:
            page.locator("#template-accounts").click()
        text = Path(download.value.path()).read_bytes().decode("utf-8-sig")
        header, example = text.splitlines()
        assert limit in header.split(";") and ";" in example and "1500,00" in example

        # A Portuguese file imports whatever the page's language; its example row is skipped.
        page.locator("input[type=file]").set_input_files(
            files=[{"name": "contas.csv", "mimeType": "text/csv", "buffer": PT_FILE}]
        )
        page.locator("#f-kind-accounts").check()
        page.locator("#f-mode-create").check()
        with import_worker(db):
            page.locator("#upload form button[type=submit]").click()
            expect(page.locator("[data-count=created] dd")).to_have_text("1")
        expect(page.locator("[data-count=failed] dd")).to_have_text("1")
        # The bad amount is refused naming its column and the form a comma file takes.
        errors = page.locator("table").last
        expect(errors).to_contain_text("Limite de crédito (R$)")
        expect(errors).to_contain_text("1234,56")
        screenshots(page, f"sheets-import-{lang}")
    finally:
        context.close()
