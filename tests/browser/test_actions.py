"""Staff in Spanish and Portuguese: a manual adjustment with its confirmation, a refund,
and the Payments page with a denial; screenshots at 360 px and 1280 px of each."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from connector.credit.models import Reservation, StatementEntry
from connector.db import Database
from tests.browser.conftest import ARTIFACTS, WIDTHS, LiveServer, screenshots
from tests.factories import ADMIN_KEY, ADMIN_TOKEN, Seeded, load_account, payment_body
from tests.web.conftest import STAFF_EMAIL, STAFF_PASSWORD

LOCALES = [("es-AR", "es"), ("pt-BR", "pt")]


def close_ups(page: Any, selector: str, name: str) -> None:
    """The workflow's own part of a long page at both widths, beside the full pages."""
    restore = page.viewport_size
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.locator(selector).screenshot(path=str(ARTIFACTS / f"{name}-part-{width}.png"))
    page.set_viewport_size(restore)


@pytest.fixture(params=LOCALES, ids=[lang for _locale, lang in LOCALES])
def staff_page(
    request: pytest.FixtureRequest, browser: Any, live_server: LiveServer, staff: str, db: Database
) -> Iterator[tuple[Any, str]]:
    """A signed-in staff user's page in the browser's language (es-AR or pt-BR)."""
    locale, lang = request.param
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live_server.base}/admin/login")
    page.locator("input[name=email]").fill(STAFF_EMAIL)
    page.locator("input[name=password]").fill(STAFF_PASSWORD)
    page.locator("form button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.base}/admin/")
    yield page, lang
    context.close()


def test_a_manual_adjustment_is_confirmed_then_booked(
    staff_page: tuple[Any, str], live_server: LiveServer, seed: Callable[..., Seeded], db: Database
) -> None:
    page, lang = staff_page
    seeded = seed(limit_cents=1_000_000, purchase_cents=30_000)
    page.goto(f"{live_server.base}/admin/accounts/{seeded.account_id}#adjustment")
    panel = page.locator("#adjustment")
    panel.locator("#f-kind-credit").check()
    panel.locator("#f-adjust-amount").fill("1.234,56")
    panel.locator("#f-adjust-reason").fill("Bonificación" if lang == "es" else "Bonificação")
    panel.locator("#f-adjust-amount").scroll_into_view_if_needed()
    screenshots(page, f"16-actions-adjustment-form-{lang}")
    close_ups(page, "#adjustment", f"16-actions-adjustment-form-{lang}")
    panel.locator("button[type=submit]").click()

    # The confirmation: the amount and the available credit before and after.
    expect(page.locator("[data-figure=amount]")).to_have_text(re.compile(r"(R\$|BRL)\s*1\.234,56"))
    expect(page.locator("[data-figure=available] [data-after]")).to_contain_text("10.934,56")
    expect(page.locator("[data-figure=available] [data-before]")).to_contain_text("9.700,00")
    screenshots(page, f"16-actions-adjustment-confirm-{lang}")
    assert load_account(db, seeded.account_id).balance_cents == -30_000  # nothing yet
    page.locator("section.confirm form button[type=submit]").click()

    expect(page.locator("[data-figure=available] dd")).to_contain_text("10.934,56")
    assert load_account(db, seeded.account_id).balance_cents == -30_000 + 123_456
    with db.transaction() as session:
        entry = session.scalars(
            select(StatementEntry).where(StatementEntry.origin == "Statement")
        ).one()
        assert (entry.value_cents, entry.done_by) == (123_456, STAFF_EMAIL)


def test_a_partial_refund_from_the_account_page(
    staff_page: tuple[Any, str], live_server: LiveServer, seed: Callable[..., Seeded], db: Database
) -> None:
    page, lang = staff_page
    seeded = seed(limit_cents=1_000_000, purchase_cents=300_000, installments=3)
    page.goto(f"{live_server.base}/admin/accounts/{seeded.account_id}#purchases")
    row = page.locator("#purchases tbody tr").first
    row.locator("input[name=amount]").fill("1.000,00")
    screenshots(page, f"17-actions-refund-form-{lang}")
    close_ups(page, "#purchases", f"17-actions-refund-form-{lang}")
    row.locator("button[type=submit]").click()
    expect(page.locator("[data-figure=amount]")).to_have_text(re.compile(r"(R\$|BRL)\s*1\.000,00"))
    screenshots(page, f"17-actions-refund-confirm-{lang}")
    page.locator("section.confirm form button[type=submit]").click()
    expect(page.locator("#purchases")).to_contain_text("1.000,00")
    with db.transaction() as session:
        reservation = session.scalars(select(Reservation)).one()
        assert reservation.refunded_cents == 100_000


def test_the_payments_page_with_a_denial(
    staff_page: tuple[Any, str], live_server: LiveServer, db: Database
) -> None:
    page, lang = staff_page
    from connector.credit.accounts import open_account

    with db.transaction() as session:
        open_account(
            session, email="buyer@example.com", credit_limit_cents=100_000, document="12345678909"
        )
    gateway = live_server.app.test_client()
    headers = {"X-VTEX-API-AppKey": ADMIN_KEY, "X-VTEX-API-AppToken": ADMIN_TOKEN}
    for payment_id, value in (("pay-approved-0001", "250.00"), ("pay-denied-0002", "2500.00")):
        answer = gateway.post("/payments", json=payment_body(payment_id, value), headers=headers)
        assert answer.status_code == 200
    page.goto(f"{live_server.base}/admin/payments")
    rows = page.locator("table.payments tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("insufficient_credit")
    expect(rows.first).to_contain_text("2.500,00")
    screenshots(page, f"18-actions-payments-{lang}")
    rows.first.locator("a.mono").click()
    expect(page.locator("[data-denial]")).to_contain_text("insufficient_credit")
    expect(page.locator("ol.timeline li")).to_have_count(1)
    screenshots(page, f"18-actions-payment-denied-{lang}")
    page.goto(f"{live_server.base}/admin/payments/pay-approved-0001")
    expect(page.locator("#actions button[type=submit]")).to_be_visible()
    screenshots(page, f"18-actions-payment-held-{lang}")
