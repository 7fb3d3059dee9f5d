from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit.check import find_drift
from connector.credit.invoices import cancel_invoice, pay_invoice, postpone_invoice, update_invoice
from connector.credit.models import Account, Invoice, StatementEntry
from connector.credit.reservations import reserve
from connector.credit.rules import is_overdue
from connector.credit.settlements import settle_reservation
from connector.errors import Conflict, NotFound, ValidationError
from tests.factories import NOW, OpenAccount


@pytest.fixture
def bought(session: Session, new_account: OpenAccount) -> tuple[Account, list[Invoice]]:
    """An account with limit 1,000.00 and a settled purchase of 300.00 in 3 installments."""
    account = new_account(credit_limit_cents=100_000)
    reservation = reserve(session, account.id, 30_000, installments=3, now=NOW)
    settle_reservation(session, reservation.id, now=NOW)
    invoices = sorted(
        session.scalars(select(Invoice).where(Invoice.reservation_id == reservation.id)),
        key=lambda i: i.id,
    )
    return account, invoices


@pytest.fixture(autouse=True)
def _no_drift(session: Session) -> object:
    yield
    session.flush()
    assert find_drift(session) == []


def test_paying_restores_credit_once(
    session: Session, bought: tuple[Account, list[Invoice]]
) -> None:
    account, invoices = bought
    assert account.balance_cents == -30_000
    paid_at = NOW + timedelta(days=10)
    pay_invoice(session, invoices[0].id, done_by="staff@store.com", now=paid_at)
    pay_invoice(session, invoices[0].id, now=paid_at)  # paying twice changes nothing
    assert invoices[0].status == "Paid" and invoices[0].resolved_at == paid_at
    assert account.balance_cents == -20_000
    [payment] = session.scalars(
        select(StatementEntry).where(StatementEntry.origin == "Payment")
    ).all()
    assert payment.value_cents == 10_000 and payment.done_by == "staff@store.com"
    assert payment.details == {
        "transactionId": invoices[0].reservation_id,
        "installment": 1,
        "paidOn": "2026-03-12",
        "paymentMethod": None,
        "paymentReference": None,
        "daysOverdue": 0,
    }
    assert (invoices[0].paid_on, invoices[0].received_cents) == (date(2026, 3, 12), 10_000)
    with pytest.raises(Conflict) as error:
        cancel_invoice(session, invoices[0].id, now=paid_at)
    assert error.value.code == "invoice_paid"


def test_cancelling_restores_credit_and_blocks_payment(
    session: Session, bought: tuple[Account, list[Invoice]]
) -> None:
    account, invoices = bought
    cancel_invoice(session, invoices[2].id, now=NOW)
    cancel_invoice(session, invoices[2].id, now=NOW)
    assert account.balance_cents == -20_000
    with pytest.raises(Conflict) as error:
        pay_invoice(session, invoices[2].id, now=NOW)
    assert error.value.code == "invoice_cancelled"


def test_an_invoice_of_another_account_is_not_found(
    session: Session, bought: tuple[Account, list[Invoice]], new_account: OpenAccount
) -> None:
    _account, invoices = bought
    other = new_account()
    with pytest.raises(NotFound):
        pay_invoice(session, invoices[0].id, account_id=other.id)
    with pytest.raises(NotFound):
        pay_invoice(session, "no-such-invoice")


def test_postponement_within_the_store_limits(
    session: Session, bought: tuple[Account, list[Invoice]], store: Callable[..., None]
) -> None:
    _account, invoices = bought
    invoice = invoices[0]
    with pytest.raises(Conflict) as error:
        postpone_invoice(session, invoice.id, 5, now=NOW)
    assert error.value.code == "postponement_refused"
    store(postponement_enabled=True, invoice_postponement_limit=2, max_postponement_days=20)
    original = invoice.due_date
    postpone_invoice(session, invoice.id, 5, now=NOW)
    assert invoice.due_date == original + timedelta(days=5)
    assert invoice.original_due_date == original
    with pytest.raises(Conflict):
        postpone_invoice(session, invoice.id, 16, now=NOW)  # 21 days in total
    postpone_invoice(session, invoice.id, 15, now=NOW)
    with pytest.raises(Conflict):
        postpone_invoice(session, invoice.id, 1, now=NOW)  # a third time
    # 2026-04-01 + 20 days is Tiradentes' Day, a holiday: the next business day.
    assert (original, invoice.due_date) == (date(2026, 4, 1), date(2026, 4, 22))
    assert invoice.postponed_days == 20  # the days asked for, which the limits count


def test_overdue_is_derived_from_the_due_date(bought: tuple[Account, list[Invoice]]) -> None:
    _account, invoices = bought
    first = invoices[0]
    assert first.due_date == date(2026, 4, 1)
    assert not is_overdue(first.status, first.due_date, date(2026, 4, 1))
    assert is_overdue(first.status, first.due_date, date(2026, 4, 2))


def test_update_invoice_sets_link_observation_and_status(
    session: Session, bought: tuple[Account, list[Invoice]]
) -> None:
    account, invoices = bought
    invoice = invoices[1]
    update_invoice(
        session,
        invoice.id,
        account_id=account.id,
        observation="boleto sent",
        payment_link="https://pay.example.com/123",
        now=NOW,
    )
    assert (invoice.observation, invoice.payment_link) == (
        "boleto sent",
        "https://pay.example.com/123",
    )
    update_invoice(session, invoice.id, status="Open", now=NOW)  # "Open" means Opened
    update_invoice(session, invoice.id, status="paid", now=NOW)
    assert invoice.status == "Paid" and account.balance_cents == -20_000
    with pytest.raises(Conflict):
        update_invoice(session, invoice.id, status="Opened", now=NOW)
    update_invoice(session, invoice.id, payment_link=None, now=NOW)
    assert invoice.payment_link is None


@pytest.mark.parametrize(
    "changes",
    [{"status": "Late"}, {"payment_link": "javascript:alert(1)"}, {"observation": 5}],
)
def test_update_invoice_refuses_bad_values_without_acting(
    session: Session, bought: tuple[Account, list[Invoice]], changes: dict[str, object]
) -> None:
    account, invoices = bought
    with pytest.raises(ValidationError):
        update_invoice(session, invoices[0].id, **{"status": "Paid", **changes})  # type: ignore[arg-type]
    assert invoices[0].status == "Opened" and account.balance_cents == -30_000


def test_a_cancelled_invoices_value_is_never_given_back_twice(
    session: Session, new_account: OpenAccount
) -> None:
    """Found by the stateful model: a refund gave back a written-off invoice's value."""
    from connector.credit.settlements import refund_reservation

    account = new_account(credit_limit_cents=10_000)
    held = reserve(session, account.id, 10_000, installments=2, now=NOW)
    paid, written_off = settle_reservation(session, held.id, now=NOW).invoices
    pay_invoice(session, paid.id, now=NOW)
    cancel_invoice(session, written_off.id, now=NOW)
    assert account.balance_cents == 0
    refund_reservation(session, held.id, now=NOW)  # all of it
    # Only what was paid comes back (5,000.00 as credit); the cancelled half came back
    # when it was cancelled.
    assert account.balance_cents == 5_000
    assert find_drift(session) == []
