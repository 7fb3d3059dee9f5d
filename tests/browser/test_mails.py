"""A reminder e-mail as a customer's mail client shows it: in Chromium, on a phone, in
Portuguese and Spanish, its Pix QR code readable."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from connector.credit.accounts import open_account
from connector.credit.reservations import reserve
from connector.credit.settings import Reminder
from connector.credit.settlements import settle_reservation
from connector.db import Database
from connector.notify.notifications import send_notifications
from connector.notify.outbox import OutboxMail
from tests.browser.conftest import screenshot
from tests.factories import NOW


def _shown(mail: OutboxMail) -> str:
    """The HTML as a mail client shows it: each ``cid:`` image from the mail's own parts."""
    html = mail.html or ""
    for cid, data in (mail.images or {}).items():
        html = html.replace(f"cid:{cid}", f"data:image/png;base64,{data}")
    return html


@pytest.mark.parametrize(("language", "overdue"), [("pt", "está vencido"), ("es", "está vencida")])
def test_an_overdue_reminder_reads_well_on_a_phone(
    browser: Any,
    db: Database,
    store: Callable[..., None],
    tmp_path: Path,
    language: str,
    overdue: str,
) -> None:
    store(
        language=language,
        reminders_after=(Reminder(1, "10:00"),),
        notify_invoice_issued=False,
        tax_rate=Decimal("0.02"),
        daily_interest_rate=Decimal("0.001"),
        pix_key="pagamentos@loja.example",
        pix_merchant_name="Loja Exemplo",
        pix_merchant_city="Recife",
        payment_instructions="Boleto ou Pix.",
    )
    with db.transaction() as session:
        account = open_account(
            session, email="cliente@empresa.example", credit_limit_cents=500_000, now=NOW
        )
        held = reserve(session, account.id, 123_456, now=NOW)
        settle_reservation(session, held.id, now=NOW)
    # One day after the due date (2026-04-01), at 10:00 in São Paulo.
    assert send_notifications(db, public_url=None, now=datetime(2026, 4, 2, 13, tzinfo=UTC)) == 1
    with db.transaction() as session:
        mail = session.scalars(select(OutboxMail)).one()
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_content(_shown(mail))
    expect(page.get_by_text(overdue)).to_be_visible()
    # 1,234.56 + 2 % (24.69) + one day of 0.1 % (1.23)
    expect(page.get_by_text(re.compile(r"1\.260,48")).first).to_be_visible()
    image = page.locator("img")
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, f"12-reminder-mail-{language}-phone")
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        assert not os.environ.get("CI"), "zbarimg (zbar-tools) is missing in CI"
    else:
        qr = tmp_path / "qr.png"
        image.screenshot(path=str(qr))
        read = subprocess.run(
            [zbarimg, "--raw", "-q", str(qr)], capture_output=True, text=True, check=True
        )
        assert read.stdout.strip() in mail.body  # the code the text part carries too
    assert base64.b64decode(next(iter(mail.images.values())))[:4] == b"\x89PNG"  # type: ignore[union-attr]
    context.close()
