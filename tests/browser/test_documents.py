"""Documents and invoice ids as staff read them, in Spanish and Portuguese: a company's
account with its CNPJ masked and its company name, and an invoice of a dependent's
purchase with the purchase's readable id, its order and who bought."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from connector.credit.accounts import open_account
from connector.credit.holders import add_holder
from connector.credit.models import Invoice
from connector.credit.reservations import reserve
from connector.credit.settlements import settle_reservation
from connector.db import Database
from tests.browser.conftest import LiveServer, screenshots
from tests.factories import NOW
from tests.web.conftest import STAFF_EMAIL, STAFF_PASSWORD


def sign_in(page: Any, server: LiveServer) -> None:
    """Sign in whatever the page's language (by the fields' names, not their labels)."""
    page.goto(f"{server.base}/admin/login")
    page.locator("input[name=email]").fill(STAFF_EMAIL)
    page.locator("input[name=password]").fill(STAFF_PASSWORD)
    page.locator("form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/admin/login"))


@pytest.mark.parametrize("locale", ["es-AR", "pt-BR"])
def test_the_account_and_invoice_pages_show_documents_and_invoice_ids(
    browser: Any, live_server: LiveServer, staff: str, db: Database, locale: str
) -> None:
    with db.transaction() as session:
        account = open_account(
            session,
            email="financeiro@souza.example",
            credit_limit_cents=500_000_000,
            document="12.ABC.345/01DE-35",
            document_type="CNPJ",
            company_name="Comércio e Representações Souza Irmãos Ltda",
            now=NOW,
        )
        add_holder(session, account.id, "compras@souza.example", now=NOW)
        purchase = reserve(
            session,
            account.id,
            250_194_410,
            installments=2,
            order_id="v1234567-01",
            holder_email="compras@souza.example",
            now=NOW,
        )
        settle_reservation(session, purchase.id, now=NOW)
        invoice_ids = list(
            session.scalars(
                select(Invoice.id).where(Invoice.reservation_id == purchase.id).order_by(Invoice.id)
            )
        )
        number = purchase.purchase_number
        account_id = account.id
    language = locale[:2]
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, live_server)
        page.goto(f"{live_server.base}/admin/accounts?q=souza+irm")
        row = page.locator("tbody tr", has_text="financeiro@souza.example")
        expect(row).to_have_count(1)  # found by its company name
        expect(row).to_contain_text("12.ABC.345/01DE-35")
        screenshots(page, f"documents-accounts-{language}")

        page.goto(f"{live_server.base}/admin/accounts/{account_id}")
        expect(page.locator(".page-head .sub")).to_contain_text("12.ABC.345/01DE-35")
        expect(page.locator(".page-head .sub")).to_contain_text("Souza Irmãos Ltda")
        expect(page.locator("input[name=companyName]")).to_have_value(
            "Comércio e Representações Souza Irmãos Ltda"
        )
        expect(page.locator("input[name=document]")).to_have_value("12.ABC.345/01DE-35")
        expect(page.get_by_text(f"V{number}-01", exact=True)).to_be_visible()
        expect(page.get_by_text(f"V{number}-02", exact=True)).to_be_visible()
        screenshots(page, f"documents-account-{language}")

        page.goto(f"{live_server.base}/admin/invoices/{invoice_ids[1]}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(f"V{number}-02")
        facts = page.locator("dl.props")
        expect(facts).to_contain_text("v1234567-01")
        expect(facts).to_contain_text("compras@souza.example")  # the dependent who bought
        screenshots(page, f"documents-invoice-{language}")
    finally:
        context.close()
