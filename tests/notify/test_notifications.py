"""Invoice mails: at their time of day in the store's zone, once, to the right people in
their language, with what they need to pay; and never twice, with two schedulers or a
process killed half way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from connector.credit.accounts import open_account
from connector.credit.holders import add_holder, set_mail_preferences
from connector.credit.invoices import pay_invoice, update_invoice
from connector.credit.models import Holder
from connector.credit.reservations import reserve
from connector.credit.settlements import settle_reservation
from connector.db import Database
from connector.notify.notifications import Notification, preview_day, send_notifications
from connector.notify.outbox import OutboxMail, deliver_pending
from tests.factories import NOW
from tests.server import free_port

PUBLIC = "https://credit.store.example"
DUE = date(2026, 4, 1)  # of a purchase settled at NOW, 30 days


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def _purchase(
    db: Database,
    *,
    email: str = "owner@buyer.example",
    installments: int = 1,
    cents: int = 100_000,
    buyer: str | None = None,
) -> tuple[str, list[str]]:
    """An account with one purchase settled at NOW: (account, invoices)."""
    with db.transaction() as session:
        account = session.scalar(select(Holder.account_id).where(Holder.email == email))
        if account is None:
            account = open_account(session, email=email, credit_limit_cents=10_000_000, now=NOW).id
        held = reserve(
            session, account, cents, installments=installments, holder_email=buyer, now=NOW
        )
        settled = settle_reservation(session, held.id, now=NOW)
        return account, [i.id for i in settled.invoices]


def _mails(db: Database) -> list[OutboxMail]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboxMail).order_by(OutboxMail.created_at)))


def _send(db: Database, moment: datetime) -> int:
    return send_notifications(db, public_url=PUBLIC, now=moment)


@pytest.fixture
def reminders(store: Callable[..., None]) -> None:
    from connector.credit.settings import Reminder

    store(
        reminders_before=(Reminder(3, "09:00"),),
        reminders_after=(Reminder(1, "10:00"), Reminder(5, "10:00")),
        notify_invoice_issued=False,
        notify_invoice_paid=False,
        my_credits_enabled=True,
    )


def test_reminders_go_at_their_time_of_day_in_the_stores_zone_and_once(
    db: Database, reminders: None
) -> None:
    _account, [invoice] = _purchase(db)
    # Three days before April 1 at 09:00 in São Paulo is 12:00 UTC on March 29.
    assert _send(db, utc(2026, 3, 29, 11, 59)) == 0
    assert _send(db, utc(2026, 3, 29, 12, 0)) == 1
    assert _send(db, utc(2026, 3, 29, 12, 1)) == 0  # once
    assert _send(db, utc(2026, 3, 30, 11, 0)) == 0  # within the day after: still once
    [before] = _mails(db)
    assert before.recipient == "owner@buyer.example"
    assert before.subject.startswith("Título ") and "vence em 1 de abril de 2026" in before.subject
    # One day after, at 10:00 (13:00 UTC on April 2); the invoice is overdue by then.
    assert _send(db, utc(2026, 4, 2, 12, 59)) == 0
    assert _send(db, utc(2026, 4, 2, 13, 0)) == 1
    with db.transaction() as session:
        rules = session.scalars(select(Notification.rule).order_by(Notification.rule)).all()
    assert rules == ["after:1", "before:3"]
    # Paid before the five-day reminder: no reminder of a paid invoice.
    with db.transaction() as session:
        pay_invoice(session, invoice, now=utc(2026, 4, 3, 15))
    assert _send(db, utc(2026, 4, 6, 13, 0)) == 0


def test_a_reminder_missed_by_more_than_a_day_is_not_sent_late(
    db: Database, reminders: None
) -> None:
    _purchase(db)
    assert _send(db, utc(2026, 3, 30, 12, 0)) == 0  # 24 h after the moment: too late
    # An invoice issued after a rule's moment is not reminded of by that rule.
    assert _send(db, utc(2026, 3, 29, 12, 0)) == 1


def test_mails_issued_and_paid_in_each_holders_language(
    db: Database, store: Callable[..., None]
) -> None:
    store(language="es", notify_dependents=True, my_credits_enabled=True)
    account, _ = _purchase(db)
    with db.transaction() as session:
        add_holder(session, account, "dependent@buyer.example", now=NOW)
        owner = session.scalar(select(Holder).where(Holder.email == "owner@buyer.example"))
        assert owner is not None
        set_mail_preferences(session, account, owner.id, language="pt", opted_out=False)
    _account, invoices = _purchase(db, installments=3, buyer="dependent@buyer.example")
    assert _send(db, NOW + timedelta(minutes=1)) == 3  # two purchases to the owner; one
    by_recipient = {m.recipient: m for m in _mails(db)}
    dependent = by_recipient["dependent@buyer.example"]
    assert dependent.subject.startswith("Su compra fue facturada: 3 facturas")  # store's: es
    owner_subjects = sorted(m.subject for m in _mails(db) if m.recipient.startswith("owner"))
    assert all(s.startswith("Sua compra foi faturada") for s in owner_subjects)
    with db.transaction() as session:
        pay_invoice(session, invoices[0], now=NOW + timedelta(days=1))
        dependent_holder = session.scalar(
            select(Holder).where(Holder.email == "dependent@buyer.example")
        )
        assert dependent_holder is not None
        set_mail_preferences(session, account, dependent_holder.id, language=None, opted_out=True)
    assert _send(db, NOW + timedelta(days=1, minutes=1)) == 1  # the owner only
    paid = _mails(db)[-1]
    assert paid.recipient == "owner@buyer.example"
    assert paid.subject.startswith("Pagamento recebido do título")


def test_a_mail_says_what_is_due_and_how_to_pay_it_in_text_and_html(
    db: Database, store: Callable[..., None], reminders: None
) -> None:
    store(
        tax_rate=Decimal("0.02"),
        daily_interest_rate=Decimal("0.001"),
        pix_key="pagamentos@loja.example",
        pix_merchant_name="Loja Exemplo",
        pix_merchant_city="Recife",
    )
    _account, [invoice] = _purchase(db)
    with db.transaction() as session:
        update_invoice(session, invoice, payment_link="https://pay.example/boleto/1", now=NOW)
    assert _send(db, utc(2026, 4, 6, 13, 0)) == 1  # five days after: overdue
    [mail] = _mails(db)
    amount = "R$\xa01.025,00"  # 1,000.00 + 2 % + 5 days of 0.1 %, as Brazil writes it
    assert mail.subject.startswith("Título ") and f"está vencido: {amount}" in mail.subject
    for text in (mail.body, mail.html or ""):
        assert amount in text
        assert "https://pay.example/boleto/1" in text
        assert "000201" in text and "br.gov.bcb.pix" in text  # the Pix code itself
        assert f"{PUBLIC}/mycredits/" in text
    assert mail.images is not None and len(mail.images) == 1
    [cid] = mail.images
    assert f'src="cid:{cid}"' in (mail.html or "")


def test_two_schedulers_write_each_mail_once(db: Database, store: Callable[..., None]) -> None:
    store(notify_invoice_issued=True)
    for n in range(6):
        _purchase(db, email=f"owner{n}@buyer.example", installments=2)
    moment = NOW + timedelta(minutes=1)
    results: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def scheduler() -> None:
        other = Database(db.url)
        try:
            start.wait()
            results.append(send_notifications(other, public_url=None, now=moment))
        except BaseException as exc:
            errors.append(exc)
        finally:
            other.dispose()

    threads = [threading.Thread(target=scheduler) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(results) == 6
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMail)) == 6
        assert session.scalar(select(func.count()).select_from(Notification)) == 12


_KILLED_AFTER_ONE = """
import os, signal, sys
from datetime import datetime, UTC
from connector.db import Database
from connector.notify import notifications

written = []
real = notifications._write

def write_then_die(session, plan, *args):
    real(session, plan, *args)
    written.append(plan)
    if len(written) == 2:  # the second mail is written, not committed: die
        os.kill(os.getpid(), signal.SIGKILL)

notifications._write = write_then_die
notifications.send_notifications(
    Database(sys.argv[1]), public_url=None, now=datetime.fromisoformat(sys.argv[2])
)
"""


def test_a_scheduler_killed_between_writing_and_committing_loses_nothing_and_repeats_nothing(
    db: Database, store: Callable[..., None], tmp_path: Path
) -> None:
    store(notify_invoice_issued=True)
    for n in range(3):
        _purchase(db, email=f"owner{n}@buyer.example")
    moment = NOW + timedelta(minutes=1)
    script = tmp_path / "die.py"
    script.write_text(_KILLED_AFTER_ONE)
    died = subprocess.run(
        [sys.executable, str(script), db.url, moment.isoformat()],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert died.returncode == -signal.SIGKILL, died.stderr
    assert len(_mails(db)) == 1  # the first, committed; the second rolled back with its row
    assert _send(db, moment) == 2
    assert _send(db, moment) == 0
    mails = _mails(db)
    assert sorted(m.recipient for m in mails) == [f"owner{n}@buyer.example" for n in range(3)]


def test_the_preview_lists_a_days_mails_and_sends_nothing(db: Database, reminders: None) -> None:
    _purchase(db)
    _purchase(db, email="other@buyer.example", cents=5_000)
    found = preview_day(db, date(2026, 3, 29), public_url=None)
    assert [(p.rule, p.recipient) for p in found] == [
        ("before:3", "other@buyer.example"),
        ("before:3", "owner@buyer.example"),
    ] or [(p.rule, p.recipient) for p in found] == [
        ("before:3", "owner@buyer.example"),
        ("before:3", "other@buyer.example"),
    ]
    assert {p.moment for p in found} == {utc(2026, 3, 29, 12)}
    assert preview_day(db, date(2026, 3, 30), public_url=None) == []
    assert _mails(db) == []


def test_mails_reach_a_real_smtp_server_once_as_text_and_html_with_the_qr_code(
    db: Database, store: Callable[..., None], reminders: None
) -> None:
    from aiosmtpd.controller import Controller

    received: list[EmailMessage] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        store(pix_key="+5511987654321", pix_merchant_name="Loja", pix_merchant_city="Recife")
        _purchase(db)
        assert _send(db, utc(2026, 3, 29, 12)) == 1
        url = f"smtp://127.0.0.1:{port}?from=credit@store.example"
        assert deliver_pending(db, url) == 1
        assert deliver_pending(db, url) == 0  # sent: not again
    finally:
        controller.stop()
    [message] = received
    assert message["From"] == "credit@store.example"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "000201" in text.get_content()
    [image] = [part for part in html.iter_parts() if part.get_content_type() == "image/png"] or [
        part for part in message.walk() if part.get_content_type() == "image/png"
    ]
    assert image.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"cid:{image['Content-ID'].strip('<>')}" in html.get_content()


def test_a_mail_carries_the_stores_name_and_logo_and_money_as_spanish_writes_it(
    db: Database, store: Callable[..., None], reminders: None
) -> None:
    store(
        language="es",
        store_name="Ferretería Gómez",
        store_logo_url="https://cdn.gomez.example/logo.png",
    )
    _purchase(db)
    assert _send(db, utc(2026, 3, 29, 13, 0)) == 1  # three days before the due date
    [mail] = _mails(db)
    assert mail.body.startswith("Ferretería Gómez\n")
    html = mail.html or ""
    assert '<img src="https://cdn.gomez.example/logo.png" alt="Ferretería Gómez"' in html
    # Spain's pattern, the real's own symbol (CLDR's Spanish has only "BRL").
    assert "1.000,00\xa0R$" in mail.subject and "BRL" not in mail.subject
