"""The credit rules as pure functions: no Flask, no SQLAlchemy, integers for money.

Where the database must apply a rule itself (to filter, sort, or approve a purchase in
one statement), the SQL comes from the same function: the rules that the database needs
(``available_credit``, ``tolerance_headroom``, ``spending_power``, ``is_overdue``) use only
arithmetic, comparisons and ``&``, which mean the same on integers and on SQLAlchemy
columns, so ``spending_power(Account.credit_limit_cents, ...)`` is the rule as SQL. A test
holds the two evaluations to the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from connector.credit.statuses import InvoiceStatus
from connector.money import scale_cents

N = TypeVar("N")  # an integer, or a column expression of integers


def available_credit(limit_cents: N, balance_cents: N, reserved_cents: N) -> N:
    """``availableCredit = L + balance - preAuthorizedCredit``."""
    return limit_cents + balance_cents - reserved_cents  # type: ignore[operator,no-any-return]


def tolerance_headroom(limit_cents: N, tolerance_bps: N) -> N:
    """How far above the available credit a purchase may go: ``L * t``, rounded down.

    Both factors are never negative (the schema checks them), so integer division rounds
    down in Python and in SQL alike, as ``money.scale_cents`` does.
    """
    return limit_cents * tolerance_bps // 10_000  # type: ignore[operator,no-any-return]


def spending_power(
    limit_cents: N,
    balance_cents: N,
    reserved_cents: N,
    tolerance_bps: N,
    tolerance_enabled: bool,
) -> N:
    """The largest purchase the account may make now."""
    power = available_credit(limit_cents, balance_cents, reserved_cents)
    if tolerance_enabled:
        power = power + tolerance_headroom(limit_cents, tolerance_bps)  # type: ignore[operator]
    return power


def can_reserve(
    value_cents: int,
    *,
    limit_cents: int,
    balance_cents: int,
    reserved_cents: int,
    tolerance_bps: int,
    tolerance_enabled: bool,
) -> bool:
    """A purchase of ``v`` is approved when ``v <= available`` (``+ L*t`` with tolerance)."""
    power = spending_power(
        limit_cents, balance_cents, reserved_cents, tolerance_bps, tolerance_enabled
    )
    return 0 < value_cents <= power


def credit_capacity(limit_cents: int, tolerance_bps: int) -> int:
    """``creditLimit * (1 + tolerance)`` in cents: what a ``Credit`` entry measures."""
    return limit_cents + tolerance_headroom(limit_cents, tolerance_bps)


def split_installments(total_cents: int, count: int) -> list[int]:
    """Split a value into ``count`` parts that sum exactly; the first parts get the extra cents."""
    if count < 1:
        raise ValueError("an installment plan has at least one installment")
    if total_cents < 0:
        raise ValueError("cannot split a negative value")
    base, extra = divmod(total_cents, count)
    return [base + 1 if i < extra else base for i in range(count)]


def agreed_installments(total_cents: int, count: int, each_cents: int | None) -> list[int] | None:
    """The installments a buyer agreed to at checkout (``each`` apiece, the last one taking
    the rounding) when they add up to ``total``; None when they cannot, and the value,
    which governs, is split evenly (``split_installments``) instead.

    A gateway rounds ``installmentsValue``: ``count * each`` may miss the value by up to a
    cent per installment, and the last installment absorbs it.
    """
    if each_cents is None or count < 2 or each_cents <= 0:
        return None
    last = total_cents - each_cents * (count - 1)
    if abs(last - each_cents) > count or last <= 0:
        return None
    return [each_cents] * (count - 1) + [last]


def due_dates(
    settled_on: date,
    offsets_days: Sequence[int],
    is_business_day: Callable[[date], bool] | None = None,
) -> list[date]:
    """One due date per installment: the settlement's date plus each offset of the plan,
    moved forward to the next business day when ``is_business_day`` is given."""
    return [
        next_business_day(settled_on + timedelta(days=days), is_business_day)
        for days in offsets_days
    ]


def next_business_day(day: date, is_business_day: Callable[[date], bool] | None) -> date:
    """``day`` itself when it is a business day (or no calendar is kept), else the next one."""
    if is_business_day is None:
        return day
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def add_business_days(start: datetime, days: int, is_holiday: Callable[[date], bool]) -> datetime:
    """The moment ``days`` business days after ``start`` (weekends and holidays skipped)."""
    moment = start
    counted = 0
    while counted < days:
        moment += timedelta(days=1)
        day = moment.date()
        if day.weekday() < 5 and not is_holiday(day):
            counted += 1
    return moment


def max_grown_value(authorized_cents: int, growth_bps: int) -> int:
    """The largest value a reservation may grow to: ``original * (1 + rate)``, rounded down."""
    return authorized_cents + scale_cents(authorized_cents, growth_bps)


@dataclass(frozen=True)
class Reduction:
    """How much to take off one invoice."""

    invoice_key: str
    cents: int
    closes: bool  # the invoice reaches zero and is cancelled


def reduce_last_first(
    open_invoices: Sequence[tuple[str, int]], amount_cents: int
) -> tuple[list[Reduction], int]:
    """Take ``amount`` off open invoices from the last installment back.

    ``open_invoices`` is ``(key, value_cents)`` in installment order. Returns the
    reductions and the part of the amount that no open invoice could absorb.
    """
    if amount_cents < 0:
        raise ValueError("cannot reduce by a negative amount")
    remaining = amount_cents
    reductions: list[Reduction] = []
    for key, value in reversed(open_invoices):
        if remaining == 0:
            break
        take = min(value, remaining)
        if take > 0:
            reductions.append(Reduction(key, take, closes=take == value))
            remaining -= take
    return reductions, remaining


def is_overdue(status: Any, due_date: Any, today: date) -> Any:
    """Overdue is derived, never stored: an opened invoice from the first day after its due
    date, ``today`` being the store's date.

    On values it answers a bool; on the invoice's columns, the SQL condition.
    """
    return (status == InvoiceStatus.OPENED) & (due_date < calendar_day(today))


def calendar_day(today: date) -> date:
    """``today`` itself, refusing a moment: a ``datetime`` is a ``date`` to Python and to
    the type checker, but compared with a date column it decides by the wrong day."""
    if isinstance(today, datetime):
        raise TypeError("due dates are compared with the store's date, not with a moment")
    return today


def days_overdue(due_date: date, today: date) -> int:
    """How many days an invoice due on ``due_date`` is late on ``today``: 1 on the day after."""
    return max(0, (today - due_date).days)


@dataclass(frozen=True)
class Refusal:
    """Why a rule says no: an English template and the values that fill it."""

    template: str
    values: dict[str, Any]


def postponement_refusal(
    *,
    enabled: bool,
    done_count: int,
    done_days: int,
    asked_days: int,
    limit_count: int,
    max_days: int,
) -> Refusal | None:
    """Why a postponement is refused, or None when it is allowed."""
    if not enabled:
        return Refusal("postponement is not enabled for this store", {})
    if asked_days < 1:
        return Refusal("dueDays must be at least 1", {})
    if done_count >= limit_count:
        return Refusal(
            "this invoice was already postponed {count} time(s), the limit", {"count": done_count}
        )
    if done_days + asked_days > max_days:
        return Refusal("postponements may add at most {days} days in total", {"days": max_days})
    return None


def friendly_id(purchase_number: int, number: int) -> str:
    """``V{purchase}-{NN}``: the purchase's store-wide number and the invoice's running
    number in it (its installment; invoices added when the order grows go on counting)."""
    return f"V{purchase_number}-{number:02d}"


def invoice_id(transaction_id: str, number: int) -> str:
    """``{transactionId}-{NN}``, NN the two-digit running number of the invoice."""
    return f"{transaction_id}-{number:02d}"


def invoice_number(invoice_id: str) -> int:
    """The running number in an ``invoice_id``."""
    return int(invoice_id.rsplit("-", 1)[1])
