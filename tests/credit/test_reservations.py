from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit.accounts import figures
from connector.credit.check import find_drift
from connector.credit.invoices import pay_invoice
from connector.credit.models import Account, Invoice, StatementEntry
from connector.credit.reservations import change_reservation, release_reservation, reserve
from connector.credit.settings import load_store_settings
from connector.credit.settlements import refund_reservation, settle_reservation
from connector.errors import Conflict, CreditDenied, ValidationError
from tests.factories import NOW, OpenAccount


def available(session: Session, account: Account) -> int:
    return figures(account, load_store_settings(session)).available_cents


def invoices_of(session: Session, reservation_id: str) -> list[Invoice]:
    rows = session.scalars(select(Invoice).where(Invoice.reservation_id == reservation_id))
    return sorted(rows, key=lambda i: int(i.id.rsplit("-", 1)[1]))


@pytest.fixture(autouse=True)
def _no_drift(session: Session) -> object:
    """After every test here, the cached figures agree with the ledger."""
    yield
    session.flush()
    assert find_drift(session) == []


def test_reserve_holds_credit(session: Session, new_account: OpenAccount) -> None:
    account = new_account(credit_limit_cents=100_000)
    reservation = reserve(session, account.id, 40_000, installments=2, order_id="o-1", now=NOW)
    assert reservation.status == "pending"
    assert reservation.term_days == [30, 60]
    assert account.reserved_cents == 40_000
    assert available(session, account) == 60_000
    # 5 business days from Monday noon: the next Monday noon.
    assert reservation.auto_settle_at == NOW + timedelta(days=7)


@pytest.mark.parametrize(
    ("installments", "code"), [(4, "installments_not_allowed"), (0, None), (3, None)]
)
def test_installments_choose_a_plan(
    session: Session, new_account: OpenAccount, installments: int, code: str | None
) -> None:
    account = new_account()
    if code is None:
        reservation = reserve(session, account.id, 1_000, installments=installments, now=NOW)
        assert reservation.installments == max(installments, 1)
    else:
        with pytest.raises(CreditDenied) as error:
            reserve(session, account.id, 1_000, installments=installments, now=NOW)
        assert error.value.code == code
        assert account.reserved_cents == 0


def test_insufficient_credit_is_denied(session: Session, new_account: OpenAccount) -> None:
    account = new_account(credit_limit_cents=10_000)
    reserve(session, account.id, 10_000, now=NOW)
    with pytest.raises(CreditDenied) as error:
        reserve(session, account.id, 1, now=NOW)
    assert error.value.code == "insufficient_credit"
    assert account.reserved_cents == 10_000


def test_zero_or_negative_values_are_invalid(session: Session, new_account: OpenAccount) -> None:
    account = new_account()
    for value in (0, -100):
        with pytest.raises(ValidationError):
            reserve(session, account.id, value, now=NOW)


def test_tolerance_only_when_the_store_enables_it(
    session: Session, new_account: OpenAccount, store: Callable[..., None]
) -> None:
    account = new_account(credit_limit_cents=100_000, tolerance_bps=1000)
    with pytest.raises(CreditDenied):
        reserve(session, account.id, 110_000, now=NOW)
    store(tolerance_enabled=True)
    with pytest.raises(CreditDenied):
        reserve(session, account.id, 125_000, now=NOW)
    reserve(session, account.id, 110_000, now=NOW)
    assert available(session, account) == -10_000  # within tolerance, below zero


def test_change_reservation_follows_the_order(
    session: Session, new_account: OpenAccount, store: Callable[..., None]
) -> None:
    store(max_preauthorization_growth_bps=2000)
    account = new_account(credit_limit_cents=100_000)
    reservation = reserve(session, account.id, 50_000, now=NOW)
    change_reservation(session, reservation.id, 30_000, now=NOW)
    assert account.reserved_cents == 30_000
    change_reservation(session, reservation.id, 60_000, now=NOW)  # 20 % above the original
    assert account.reserved_cents == 60_000
    with pytest.raises(CreditDenied) as error:
        change_reservation(session, reservation.id, 60_001, now=NOW)
    assert error.value.code == "growth_limit_exceeded"
    reserve(session, account.id, 40_000, now=NOW)
    store(max_preauthorization_growth_bps=10000)
    with pytest.raises(CreditDenied) as error:
        change_reservation(session, reservation.id, 60_001, now=NOW)
    assert error.value.code == "insufficient_credit"
    assert account.reserved_cents == 100_000


def test_release_gives_credit_back_once(session: Session, new_account: OpenAccount) -> None:
    account = new_account(credit_limit_cents=10_000)
    reservation = reserve(session, account.id, 7_000, now=NOW)
    release_reservation(session, reservation.id, now=NOW)
    release_reservation(session, reservation.id, now=NOW)
    assert reservation.status == "voided" and reservation.value_cents == 0
    assert account.reserved_cents == 0
    with pytest.raises(Conflict):
        settle_reservation(session, reservation.id, now=NOW)


def test_settle_issues_one_invoice_per_installment(
    session: Session, new_account: OpenAccount
) -> None:
    account = new_account(credit_limit_cents=100_000)
    reservation = reserve(session, account.id, 10_000, installments=3, order_id="ord-7", now=NOW)
    settled_at = NOW + timedelta(days=1)
    result = settle_reservation(session, reservation.id, now=settled_at)
    assert result.settled_cents == 10_000
    invoices = invoices_of(session, reservation.id)
    assert [i.value_cents for i in invoices] == [3334, 3333, 3333]
    assert [i.id for i in invoices] == [f"{reservation.id}-0{n}" for n in (1, 2, 3)]
    assert [i.installment for i in invoices] == [1, 2, 3]
    assert {i.number_of_installments for i in invoices} == {3}
    # Settled on Tuesday 2026-03-03 (São Paulo): +30, +60 (Saturday: Monday) and +90.
    assert [i.due_date for i in invoices] == [date(2026, 4, 2), date(2026, 5, 4), date(2026, 6, 1)]
    assert all(i.original_due_date == i.due_date for i in invoices)
    assert all(i.status == "Opened" and i.order_id == "ord-7" for i in invoices)
    # One readable id for the purchase, the installment after it (V1001-01, V1001-02, ...).
    assert reservation.purchase_number is not None
    assert [i.friendly_id for i in invoices] == [
        f"V{reservation.purchase_number}-0{n}" for n in (1, 2, 3)
    ]
    assert reservation.status == "posted" and reservation.value_cents == 0
    assert (account.reserved_cents, account.balance_cents) == (0, -10_000)
    assert available(session, account) == 90_000
    entries = session.scalars(
        select(StatementEntry).where(StatementEntry.origin == "Invoice")
    ).all()
    assert sorted(e.value_cents for e in entries) == [-3334, -3333, -3333]
    assert all(e.details["transactionId"] == reservation.id for e in entries)
    assert all(e.details["orderId"] == "ord-7" for e in entries)
    assert all(e.details["numberOfInstallments"] == 3 for e in entries)


def test_partial_settlement_releases_the_rest(session: Session, new_account: OpenAccount) -> None:
    account = new_account(credit_limit_cents=100_000)
    reservation = reserve(session, account.id, 10_000, installments=2, now=NOW)
    result = settle_reservation(session, reservation.id, 6_001, now=NOW)
    assert result.settled_cents == 6_001
    assert [i.value_cents for i in invoices_of(session, reservation.id)] == [3001, 3000]
    assert account.reserved_cents == 0 and account.balance_cents == -6_001


def test_settling_above_the_reservation_within_growth(
    session: Session, new_account: OpenAccount, store: Callable[..., None]
) -> None:
    store(max_preauthorization_growth_bps=1000)
    account = new_account(credit_limit_cents=100_000)
    reservation = reserve(session, account.id, 10_000, now=NOW)
    with pytest.raises(CreditDenied):
        settle_reservation(session, reservation.id, 11_001, now=NOW)
    assert reservation.status == "pending" and account.reserved_cents == 10_000
    settle_reservation(session, reservation.id, 11_000, now=NOW)
    assert account.balance_cents == -11_000


def test_order_changes_after_settlement(
    session: Session, new_account: OpenAccount, store: Callable[..., None]
) -> None:
    store(max_preauthorization_growth_bps=5000)
    account = new_account(credit_limit_cents=100_000)
    reservation = reserve(session, account.id, 9_000, installments=3, now=NOW)
    settle_reservation(session, reservation.id, now=NOW)
    # Lower: the open invoices shrink, last installment first.
    lower = settle_reservation(session, reservation.id, 5_000, now=NOW)
    assert lower.settled_cents == 5_000
    invoices = invoices_of(session, reservation.id)
    assert [(i.value_cents, i.status) for i in invoices] == [
        (3000, "Opened"),
        (2000, "Opened"),
        (0, "Cancelled"),
    ]
    assert account.balance_cents == -5_000
    # Higher: new invoices for the difference, numbered after the first ones.
    later = NOW + timedelta(days=3)
    higher = settle_reservation(session, reservation.id, 12_000, now=later)
    assert [i.id[-2:] for i in higher.invoices] == ["04", "05", "06"]
    assert [i.value_cents for i in higher.invoices] == [2334, 2333, 2333]
    assert higher.invoices[0].due_date == date(2026, 4, 6)  # +30 is a Saturday: Monday
    assert account.balance_cents == -12_000
    with pytest.raises(CreditDenied) as error:
        settle_reservation(session, reservation.id, 13_501, now=NOW)
    assert error.value.code == "growth_limit_exceeded"
    # The same value again changes nothing.
    assert settle_reservation(session, reservation.id, 12_000, now=NOW).invoices == []


def test_refunds_reduce_open_invoices_last_first(
    session: Session, new_account: OpenAccount
) -> None:
    account = new_account(credit_limit_cents=100_000)
    reservation = reserve(session, account.id, 9_000, installments=3, now=NOW)
    settle_reservation(session, reservation.id, now=NOW)
    first = refund_reservation(session, reservation.id, 1_000, now=NOW)
    second = refund_reservation(session, reservation.id, 1_000, now=NOW)  # same value, again
    assert (first.refunded_cents, second.refunded_cents) == (1_000, 1_000)
    assert [i.value_cents for i in invoices_of(session, reservation.id)] == [3000, 3000, 1000]
    assert reservation.refunded_cents == 2_000
    assert account.balance_cents == -7_000
    with pytest.raises(Conflict) as error:
        refund_reservation(session, reservation.id, 7_001, now=NOW)
    assert error.value.code == "refund_exceeds_settled"
    assert reservation.refunded_cents == 2_000


def test_refund_beyond_open_invoices_returns_credit(
    session: Session, new_account: OpenAccount
) -> None:
    account = new_account(credit_limit_cents=100_000)
    reservation = reserve(session, account.id, 10_000, installments=2, now=NOW)
    settle_reservation(session, reservation.id, now=NOW)
    first, second = invoices_of(session, reservation.id)
    pay_invoice(session, second.id, now=NOW)  # the last installment is already paid
    result = refund_reservation(session, reservation.id, 8_000, now=NOW)
    # The open first installment absorbs 5,000; the paid one's 3,000 comes back as credit.
    assert result.returned_cents == 3_000
    assert (first.status, first.value_cents) == ("Cancelled", 0)
    assert account.balance_cents == 3_000
    assert available(session, account) == 103_000
    refund_entries = session.scalars(
        select(StatementEntry).where(StatementEntry.origin == "Refund")
    ).all()
    assert sorted(e.value_cents for e in refund_entries) == [3_000, 5_000]
    with pytest.raises(Conflict):
        refund_reservation(session, reservation.id, 2_001, now=NOW)
    refund_reservation(session, reservation.id, now=NOW)  # all that is left: 2,000
    assert reservation.refunded_cents == reservation.settled_cents == 10_000
    assert account.balance_cents == 5_000


def test_refund_needs_a_settled_purchase(session: Session, new_account: OpenAccount) -> None:
    account = new_account()
    reservation = reserve(session, account.id, 1_000, now=NOW)
    with pytest.raises(Conflict) as error:
        refund_reservation(session, reservation.id, 500, now=NOW)
    assert error.value.code == "transaction_not_settled"


def test_the_settled_value_cannot_drop_below_refunds(
    session: Session, new_account: OpenAccount
) -> None:
    account = new_account()
    reservation = reserve(session, account.id, 10_000, now=NOW)
    settle_reservation(session, reservation.id, now=NOW)
    refund_reservation(session, reservation.id, 6_000, now=NOW)
    with pytest.raises(Conflict):
        settle_reservation(session, reservation.id, 5_000, now=NOW)
    settle_reservation(session, reservation.id, 7_000, now=NOW)
    assert account.balance_cents == -1_000
