"""Late charges: the arithmetic at its boundaries, and what paying with them books."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit.charges import NO_CHARGES, Charges, late_charges, split_received
from connector.credit.check import find_drift
from connector.credit.invoices import pay_invoice, postpone_invoice
from connector.credit.models import StatementEntry
from connector.credit.receipts import Receipt
from connector.credit.reservations import reserve
from connector.credit.settings import StoreSettings
from connector.credit.settlements import settle_reservation
from connector.errors import ValidationError
from tests.factories import NOW, OpenAccount

DUE = date(2026, 4, 1)
TWO_PERCENT, TENTH_A_DAY = Decimal("0.02"), Decimal("0.001")


def charges(
    value: int, on: date, fee: Decimal = TWO_PERCENT, daily: Decimal = TENTH_A_DAY
) -> Charges:
    return late_charges(value, DUE, on, tax_rate=fee, daily_rate=daily)


def test_nothing_is_charged_on_the_due_date_and_everything_from_the_day_after() -> None:
    assert charges(100_000, DUE) == NO_CHARGES
    assert charges(100_000, DUE - timedelta(days=9)) == NO_CHARGES
    first = charges(100_000, DUE + timedelta(days=1))
    assert (first.days_overdue, first.late_fee_cents, first.interest_cents) == (1, 2_000, 100)
    thirty = charges(100_000, DUE + timedelta(days=30))
    assert (thirty.late_fee_cents, thirty.interest_cents, thirty.total_cents) == (
        2_000,
        3_000,
        5_000,
    )


@pytest.mark.parametrize(
    ("value", "rate", "expected"),
    [
        (25, Decimal("0.02"), 1),  # 0.5 cent rounds half up
        (24, Decimal("0.02"), 0),  # 0.48 cent rounds down
        (75, Decimal("0.02"), 2),  # 1.5 cents: 2
        (1, Decimal("0.5"), 1),
        (1, Decimal("0.49"), 0),
        (10**15, Decimal("0.02"), 2 * 10**13),  # the largest amounts stay exact
    ],
)
def test_the_fee_is_rounded_once_half_up(value: int, rate: Decimal, expected: int) -> None:
    assert charges(value, DUE + timedelta(days=1), fee=rate).late_fee_cents == expected


def test_interest_is_rounded_once_not_a_day_at_a_time() -> None:
    # 0.4 cent a day: ten days are 4 cents, never ten roundings of 0 (nor of 1).
    assert charges(400, DUE + timedelta(days=10), fee=Decimal(0)).interest_cents == 4


@given(
    value=st.integers(0, 10**13),
    days=st.integers(-400, 4000),
    fee=st.decimals(0, 1, places=6),
    daily=st.decimals(0, 1, places=6),
)
def test_charges_are_the_exact_amounts_rounded_half_up(
    value: int, days: int, fee: Decimal, daily: Decimal
) -> None:
    got = charges(value, DUE + timedelta(days=days), fee=fee, daily=daily)
    late = max(days, 0)
    assert got.days_overdue == late
    exact_fee = Decimal(value) * fee if late else Decimal(0)
    exact_interest = Decimal(value) * daily * late
    assert abs(got.late_fee_cents - exact_fee) <= Decimal("0.5")
    assert abs(got.interest_cents - exact_interest) <= Decimal("0.5")
    assert got.late_fee_cents == int(exact_fee.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    # More days never charge less.
    later = charges(value, DUE + timedelta(days=days + 1), fee=fee, daily=daily)
    assert later.total_cents >= got.total_cents


@given(fee=st.integers(0, 10**6), interest=st.integers(0, 10**6), taken=st.integers(0, 3 * 10**6))
def test_what_is_taken_above_the_value_is_fee_first(fee: int, interest: int, taken: int) -> None:
    quoted = Charges(3, fee, interest)
    taken = min(taken, quoted.total_cents)
    booked_fee, booked_interest = split_received(quoted, taken)
    assert booked_fee + booked_interest == taken
    assert 0 <= booked_fee <= fee and 0 <= booked_interest <= interest


def test_paying_late_books_the_charges_and_restores_only_the_value(
    session: Session, new_account: OpenAccount
) -> None:
    settings = StoreSettings(tax_rate=TWO_PERCENT, daily_interest_rate=TENTH_A_DAY)
    account = new_account(credit_limit_cents=500_000)
    held = reserve(session, account.id, 100_000, settings=settings, now=NOW)
    [invoice] = settle_reservation(session, held.id, settings=settings, now=NOW).invoices
    assert invoice.due_date == DUE
    later = NOW + timedelta(days=40)  # 2026-04-11: ten days late
    with pytest.raises(ValidationError) as above:
        pay_invoice(
            session,
            invoice.id,
            receipt=Receipt(received_cents=103_001),
            settings=settings,
            now=later,
        )
    assert set(above.value.fields) == {"amountReceived"}
    pay_invoice(session, invoice.id, settings=settings, now=later)
    assert (invoice.received_cents, invoice.late_fee_cents, invoice.interest_cents) == (
        103_000,
        2_000,
        1_000,
    )
    assert account.balance_cents == 0  # the value came back; the charges used no credit
    booked = session.execute(
        select(StatementEntry.origin, StatementEntry.value_cents)
        .where(StatementEntry.invoice_id == invoice.id)
        .order_by(StatementEntry.id)
    ).all()
    assert [tuple(row) for row in booked] == [
        ("Invoice", -100_000),
        ("LateFee", -2_000),
        ("Interest", -1_000),
        ("Payment", 103_000),
    ]
    assert find_drift(session) == []


def test_a_postponement_moves_the_day_charges_count_from(
    session: Session, new_account: OpenAccount
) -> None:
    settings = StoreSettings(
        tax_rate=TWO_PERCENT,
        daily_interest_rate=TENTH_A_DAY,
        postponement_enabled=True,
        max_postponement_days=30,
    )
    account = new_account(credit_limit_cents=500_000)
    held = reserve(session, account.id, 100_000, settings=settings, now=NOW)
    [invoice] = settle_reservation(session, held.id, settings=settings, now=NOW).invoices
    postpone_invoice(session, invoice.id, 9, settings=settings, now=NOW)  # to 2026-04-10
    pay_invoice(session, invoice.id, settings=settings, now=NOW + timedelta(days=40))
    assert (invoice.late_fee_cents, invoice.interest_cents) == (2_000, 100)  # one day late
