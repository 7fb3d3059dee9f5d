"""The audit trail in a browser, in Spanish and Portuguese: a change made in the admin shows
in the account's activity, on the invoice's page, and on the audit page with its filters."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from connector import audit
from connector.credit.invoices import pay_invoice
from connector.credit.statements import adjust_balance
from connector.db import Database
from tests.browser.conftest import ARTIFACTS, LiveServer, screenshots
from tests.factories import Seeded
from tests.web.conftest import STAFF_EMAIL, STAFF_PASSWORD

WORDS = {
    "es": {
        "locale": "es-AR",
        "activity": "Historial",
        "trail": "Auditoría",
        "credit": "Crédito modificado",
        "paid": "Título marcado como pagado",
        "adjusted": "Ajuste manual",
        "save": "Guardar crédito",
        "staff": "Equipo",
        "filter": "Filtrar",
        "action": "Acción",
    },
    "pt": {
        "locale": "pt-BR",
        "activity": "Histórico",
        "trail": "Auditoria",
        "credit": "Crédito alterado",
        "paid": "Título marcado como pago",
        "adjusted": "Ajuste manual",
        "save": "Salvar crédito",
        "staff": "Equipe",
        "filter": "Filtrar",
        "action": "Ação",
    },
}


@pytest.mark.parametrize("lang", ["es", "pt"])
def test_staff_follow_a_change_on_the_account_the_invoice_and_the_audit_page(
    browser: Any,
    live_server: LiveServer,
    db: Database,
    staff: str,
    seed: Callable[..., Seeded],
    lang: str,
) -> None:
    words = WORDS[lang]
    seeded = seed(limit_cents=250_194_410_000, purchase_cents=123_456, installments=2)
    with audit.acting_as(audit.JOB, "collect"), db.transaction() as session:
        pay_invoice(session, seeded.invoice_ids[0])
    with audit.acting_as(audit.KEY, "ck_7f3a9e0c21d4b85e6f10"), db.transaction() as session:
        adjust_balance(
            session, seeded.account_id, -12_345, description="Frete cobrado à parte, pedido 1001"
        )
    context = browser.new_context(locale=words["locale"], viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live_server.base}/admin/login")
    page.locator("#f-email").fill(STAFF_EMAIL)
    page.locator("#f-password").fill(STAFF_PASSWORD)
    page.locator("form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))

    # A change made in the page in this language is the newest activity of the account.
    page.goto(f"{live_server.base}/admin/accounts/{seeded.account_id}")
    credit = page.locator("#credit form")
    credit.locator("input[name=creditLimit]").fill("2600000000")
    credit.get_by_role("button", name=words["save"]).click()
    activity = page.get_by_role("region", name=words["activity"])
    expect(activity).to_be_visible()
    newest = activity.locator(".activity-entry").first
    expect(newest).to_contain_text(words["credit"])
    expect(newest).to_contain_text(words["staff"])
    expect(newest).to_contain_text(STAFF_EMAIL)
    expect(activity).to_contain_text(words["adjusted"])
    expect(activity).to_contain_text(words["paid"])
    screenshots(page, f"audit-account-{lang}")
    # At a phone's width the activity wraps inside its panel: nothing sticks out of it.
    page.set_viewport_size({"width": 360, "height": 900})
    assert activity.evaluate("e => e.scrollWidth <= e.clientWidth")
    box = activity.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
    activity.screenshot(path=str(ARTIFACTS / f"audit-account-activity-{lang}-360.png"))
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{live_server.base}/admin/invoices/{seeded.invoice_ids[0]}")
    invoice_activity = page.get_by_role("region", name=words["activity"])
    expect(invoice_activity.locator(".activity-entry")).to_have_count(1)
    expect(invoice_activity).to_contain_text(words["paid"])
    screenshots(page, f"audit-invoice-{lang}")

    # The audit page, from the navigation, filtered by action.
    page.get_by_role("navigation").get_by_role("link", name=words["trail"]).click()
    expect(page.get_by_role("heading", name=words["trail"])).to_be_visible()
    page.get_by_label(words["action"]).select_option("account.credit")
    page.get_by_role("button", name=words["filter"]).click()
    entries = page.locator(".activity-entry")
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text(words["credit"])
    page.goto(f"{live_server.base}/admin/audit")
    expect(page.locator(".activity-entry")).to_have_count(5)
    screenshots(page, f"audit-trail-{lang}")
    context.close()
