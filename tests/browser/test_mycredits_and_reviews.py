"""A customer following their credit in Spanish; staff deciding an over-limit purchase."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import url_for
from playwright.sync_api import expect
from sqlalchemy import select

from connector.access.customer_links import mint_token
from connector.clock import utcnow
from connector.context import of
from connector.credit.accounts import open_account
from connector.credit.models import Invoice
from connector.credit.pix_codes import pix_code
from connector.credit.settings import load_store_settings
from connector.db import Database
from connector.payments.models import PaymentCallback, PaymentReview
from tests.browser.conftest import LiveServer, screenshot
from tests.browser.test_admin import nav, sign_in
from tests.factories import ADMIN_KEY, ADMIN_TOKEN, Seeded, load_account, payment_body

PAY_URL = "https://pay.example.test/boleto/"


def test_a_customer_opens_my_credits_in_spanish_and_presses_pay(
    browser: Any,
    live_server: LiveServer,
    db: Database,
    seed: Callable[..., Seeded],
    store: Callable[..., None],
) -> None:
    store(my_credits_enabled=True, payment_instructions="Transferencia a la cuenta 123.")
    seeded = seed(
        email="cliente@empresa.example",
        limit_cents=500_000,
        purchase_cents=123_456,
        installments=2,
        payment_link=PAY_URL + "1",
    )
    seed(email="otro@empresa.example", purchase_cents=99_999)  # someone else's invoices
    with (
        live_server.app.test_request_context(base_url=live_server.base),
        db.transaction() as session,
    ):
        token, _expires_at = mint_token(
            session, seeded.account_id, secret=of(live_server.app).secret_key
        )
        link_url = live_server.base + url_for("mycredits.open_link", token=token)
    paid_pages: list[str] = []

    def fake_payment_page(route: Any) -> None:
        paid_pages.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>Pasarela de pago</h1>")

    # The customer's own browser, in Spanish.
    context = browser.new_context(locale="es-AR", viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.route(re.compile(r"^https://pay\.example\.test/.*"), fake_payment_page)
    page.goto(link_url)
    expect(page).to_have_url(f"{live_server.base}/mycredits/")
    expect(page.get_by_role("heading", name="Mis Créditos")).to_be_visible()
    # Money as Argentina writes it (the browser's region), in the store's currency.
    expect(page.locator("[data-figure=available] dd")).to_have_text(re.compile(r"R\$\s*3\.765,44"))
    expect(page.locator("[data-figure=limit] dd")).to_have_text(re.compile(r"R\$\s*5\.000,00"))
    expect(page.get_by_text("Transferencia a la cuenta 123.")).to_be_visible()
    rows = page.get_by_role("region", name="Facturas a pagar").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_text("99,99")).to_have_count(0)  # not this customer's purchase
    screenshot(page, "08-mycredits-es")

    page.get_by_role("link", name=re.compile(r"^Pagar la factura V\d+-01$")).click()
    expect(page.get_by_role("heading", name="Pasarela de pago")).to_be_visible()
    assert paid_pages == [PAY_URL + "1"]
    context.close()


def test_staff_approve_an_over_limit_purchase_in_the_review_queue(
    page: Any, live_server: LiveServer, db: Database, staff: str, store: Callable[..., None]
) -> None:
    store(over_limit_review_enabled=True)
    with db.transaction() as session:
        account_id = open_account(
            session, email="buyer@example.com", credit_limit_cents=100_000, document="12345678909"
        ).id
    gateway = live_server.app.test_client()
    headers = {"X-VTEX-API-AppKey": ADMIN_KEY, "X-VTEX-API-AppToken": ADMIN_TOKEN}
    answer = gateway.post("/payments", json=payment_body("big", "1500.00"), headers=headers).json
    assert answer is not None and answer["status"] == "undefined"

    sign_in(page, live_server)
    nav(page, "Reviews").click()
    row = page.locator("tbody tr").filter(has_text="buyer@example.com")
    expect(row).to_contain_text("R$1,500.00")
    expect(row).to_contain_text("R$1,000.00")
    screenshot(page, "09-reviews")
    row.get_by_label("Note").fill("Known customer, order confirmed by phone")
    row.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Purchase approved; the gateway is being told.")).to_be_visible()
    expect(page.get_by_text("Nothing is waiting.")).to_be_visible()
    expect(page.get_by_role("region", name="Latest decisions")).to_contain_text("Approved")

    assert load_account(db, account_id).reserved_cents == 150_000
    with db.transaction() as session:
        review = session.scalars(select(PaymentReview)).one()
        assert (review.status, review.decided_by) == ("approved", staff)
        assert review.note == "Known customer, order confirmed by phone"
        callback = session.scalars(select(PaymentCallback)).one()
        assert (callback.final_status, callback.status) == ("approved", "pending")


def test_a_customer_pays_an_overdue_invoice_by_pix_on_a_phone_in_portuguese(
    browser: Any,
    live_server: LiveServer,
    db: Database,
    seed: Callable[..., Seeded],
    store: Callable[..., None],
    tmp_path: Path,
) -> None:
    store(
        my_credits_enabled=True,
        tax_rate=Decimal("0.02"),
        daily_interest_rate=Decimal("0.001"),
        pix_key="pagamentos@loja.example",
        pix_merchant_name="Loja Exemplo Ltda",
        pix_merchant_city="São Paulo",
    )
    seeded = seed(email="cliente@empresa.example", purchase_cents=100_000, settled_days_ago=40)
    [invoice_id] = seeded.invoice_ids
    with db.transaction() as session:
        settings = load_store_settings(session)
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        code = pix_code(invoice, settings, settings.today(utcnow()))
        assert code is not None and code.amount_cents > 100_000  # late: fee and interest
        token, _expires_at = mint_token(
            session, seeded.account_id, secret=of(live_server.app).secret_key
        )
    with live_server.app.test_request_context(base_url=live_server.base):
        link_url = live_server.base + url_for("mycredits.open_link", token=token)
    context = browser.new_context(
        locale="pt-BR", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    page = context.new_page()
    page.goto(link_url)
    amount = f"{code.amount_cents // 100:,}".replace(",", ".") + f",{code.amount_cents % 100:02d}"
    rows = page.get_by_role("region", name="Títulos a pagar").locator("tbody tr")
    expect(rows).to_contain_text(amount)  # the amount due, late charges included
    expect(rows).to_contain_text("encargos por atraso")
    # Nothing wider than the phone: the amount due and the buttons are in view.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.get_by_role("link", name=re.compile(r" por Pix$")).bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390
    screenshot(page, "10-mycredits-pt-phone")
    page.get_by_role("link", name=re.compile(r"^Pagar o título .* por Pix$")).click()
    expect(page.get_by_role("heading", name="Pagar por Pix")).to_be_visible()
    shown = page.get_by_label("Código Pix copia e cola").input_value()
    assert shown == code.payload
    screenshot(page, "11-mycredits-pix-pt-phone")
    # The QR code on the screen holds the same code, read by a real decoder.
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        assert not os.environ.get("CI"), "zbarimg (zbar-tools) is missing in CI"
    else:
        qr = tmp_path / "qr.png"
        page.locator(".pix-qr svg").screenshot(path=str(qr))
        read = subprocess.run(
            [zbarimg, "--raw", "-q", str(qr)], capture_output=True, text=True, check=True
        )
        assert read.stdout.strip() == code.payload
    context.close()
