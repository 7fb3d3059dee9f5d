"""Store staff in a real browser: the seeds' admin walkthroughs, step by step."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from connector.credit.models import Account, Holder
from connector.db import Database
from tests.browser.conftest import LiveServer, screenshot
from tests.factories import Seeded, load_account, load_invoice
from tests.web.conftest import STAFF_EMAIL, STAFF_PASSWORD


def nav(page: Any, name: str) -> Any:
    """A link of the navigation bar."""
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name)


def sign_in(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.base}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login"))
    page.get_by_label("E-mail").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_sign_in_create_an_account_change_its_limit_add_a_dependent(
    page: Any, live_server: LiveServer, staff: str, db: Database
) -> None:
    page.goto(f"{live_server.base}/admin/login")
    screenshot(page, "01-sign-in")
    sign_in(page, live_server)
    screenshot(page, "02-dashboard")

    # Accounts -> New account
    nav(page, "Accounts").click()
    page.get_by_role("link", name="New account").click()
    page.get_by_label("Owner's e-mail").fill("Buyer@Company.example")
    page.get_by_label("Document", exact=True).fill("123.456.789-09")
    page.get_by_label("Credit limit").fill("1.500,00")
    page.get_by_label("Tolerance (fraction or %)").fill("10%")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Account 12345678909_CPF opened.")).to_be_visible()
    expect(page.locator("[data-figure=limit] dd")).to_have_text(
        "R$1,500.00"
    )  # BRL as en_US writes it
    screenshot(page, "03-account")
    with db.transaction() as session:
        account = session.get(Account, "12345678909_CPF")
        assert account is not None
        assert (account.email, account.credit_limit_cents, account.tolerance_bps) == (
            "buyer@company.example",
            150_000,
            1000,
        )

    # Edit the limit
    page.get_by_role("textbox", name="Credit limit").fill("2500")
    page.get_by_role("button", name="Save credit").click()
    expect(page.get_by_text("Credit limit and tolerance saved.")).to_be_visible()
    assert load_account(db, "12345678909_CPF").credit_limit_cents == 250_000

    # A bad limit is shown next to its field, and nothing changes
    page.get_by_role("textbox", name="Credit limit").fill("12.345.6")
    page.get_by_role("button", name="Save credit").click()
    expect(page.locator("#f-creditLimit-note")).to_have_text("Enter an amount such as 1500.00.")
    assert load_account(db, "12345678909_CPF").credit_limit_cents == 250_000

    # Dependents: "New", fill the e-mail, "Confirm"
    page.goto(f"{live_server.base}/admin/accounts/12345678909_CPF")
    page.get_by_text("New", exact=True).click()
    page.get_by_label("Dependent's e-mail").fill("helper@company.example")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Dependent helper@company.example added.")).to_be_visible()
    expect(page.get_by_role("cell", name="helper@company.example", exact=True)).to_be_visible()
    with db.transaction() as session:
        assert (
            session.scalars(select(Holder).where(Holder.email == "helper@company.example"))
            .one()
            .level
            == 2
        )
    screenshot(page, "04-account-with-dependent")

    # The list finds it by document, with its mask
    nav(page, "Accounts").click()
    page.get_by_label("Search by e-mail, document, company name or id").fill("123.456")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="buyer@company.example")).to_be_visible()
    screenshot(page, "05-accounts")

    nav(page, "Settings").click()
    expect(page.get_by_role("heading", name="Store settings")).to_be_visible()
    page.get_by_label("Allow postponing due dates").check()
    page.get_by_label("Payment-term plans").fill("30\n30, 60\n30, 60, 90\n7, 14, 21, 28")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    expect(page.get_by_label("Payment-term plans")).to_have_value(
        "30\n30, 60\n30, 60, 90\n7, 14, 21, 28"
    )
    screenshot(page, "10-settings")
    nav(page, "Bulk").click()
    screenshot(page, "11-bulk")


def test_mark_an_invoice_paid_and_see_the_available_credit_rise(
    page: Any, live_server: LiveServer, staff: str, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed(email="payer@company.example", limit_cents=100_000, purchase_cents=30_000)
    seed(purchase_cents=12_345, installments=3, settled_days_ago=70)  # some overdue ones
    sign_in(page, live_server)
    page.goto(f"{live_server.base}/admin/accounts/{seeded.account_id}")
    expect(page.locator("[data-figure=available] dd")).to_have_text("R$700.00")

    # "open Customer Credit, click Invoices, select the invoice, click Mark as paid"
    nav(page, "Invoices").click()
    screenshot(page, "06-invoices")
    page.get_by_label("Overdue").check()
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Order id").fill("ORDER-1")
    page.get_by_role("button", name="Filter").click()
    invoice = load_invoice(db, seeded.invoice_ids[0])
    page.get_by_role("link", name=invoice.friendly_id).click()
    screenshot(page, "07-invoice")
    page.get_by_role("button", name="Mark as paid").click()
    page.get_by_role("button", name="Confirm: mark as paid").click()
    expect(page.get_by_text("Invoice marked as paid.")).to_be_visible()
    expect(page.locator("h1 .badge")).to_have_text("Paid")
    assert load_invoice(db, invoice.id).status == "Paid"

    page.get_by_role("link", name="payer@company.example").click()
    expect(page.locator("[data-figure=available] dd")).to_have_text("R$1,000.00")

    nav(page, "Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    screenshot(page, "12-dashboard-with-invoices")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(f"{live_server.base}/admin/invoices")
    screenshot(page, "13-invoices-phone")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_the_forms_work_from_the_keyboard(
    page: Any, live_server: LiveServer, staff: str, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed(email="keys@company.example")
    page.goto(f"{live_server.base}/admin/login")
    expect(page.get_by_label("E-mail")).to_be_focused()  # autofocus
    page.keyboard.type(STAFF_EMAIL)
    page.keyboard.press("Tab")
    page.keyboard.type(STAFF_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.goto(f"{live_server.base}/admin/accounts/{seeded.account_id}")
    page.get_by_text("New", exact=True).focus()
    page.keyboard.press("Enter")  # opens the dependent form
    expect(page.get_by_label("Dependent's e-mail")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Dependent's e-mail")).to_be_focused()
    page.keyboard.type("typed@company.example")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Dependent typed@company.example added.")).to_be_visible()
    for label in ("Credit limit", "Tolerance (fraction or %)", "Owner's e-mail", "Document type"):
        expect(
            page.get_by_role("textbox", name=label).or_(page.get_by_role("combobox", name=label))
        ).to_have_count(1)
