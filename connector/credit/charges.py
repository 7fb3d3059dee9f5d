"""Late charges and the amount due: what an overdue invoice costs on a given day.

The store's ``tax_rate`` (the public API's ``taxRate``) is a one-time late fee on the
invoice's value once it is overdue; ``daily_interest_rate`` (``dailyInterestRate``) is
simple interest a day on that value, counted from the first day after the due date (one
day on that day). Both are fractions: ``0.02`` is 2 %. The value is the invoice's current
value (after refunds), and the due date its current one, so a postponement moves the day
charges count from.

Rounding, the one rule: each charge is computed exactly (``Decimal``) from the value, the
rate and the days, and rounded once to the cent, half up (``ROUND_HALF_UP``): a charge of
0.5 cent is 1 cent. Interest is never the sum of daily roundings.

Charges never consume credit: an open invoice's charges are quoted, not booked. When it is
paid, the charges received are booked beside the payment (``LateFee`` and ``Interest``
entries, the ``Payment`` entry for what was received), so the credit restored is the
invoice's value and the statement shows what the customer paid and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from connector.credit import rules
from connector.credit.models import InvoiceStatus
from connector.credit.settings import StoreSettings


@dataclass(frozen=True)
class Charges:
    """The late charges of an invoice on a day."""

    days_overdue: int
    late_fee_cents: int
    interest_cents: int

    @property
    def total_cents(self) -> int:
        return self.late_fee_cents + self.interest_cents


NO_CHARGES = Charges(0, 0, 0)


def _cents(amount: Decimal) -> int:
    return int(amount.to_integral_value(rounding=ROUND_HALF_UP))


def late_charges(
    value_cents: int, due_date: date, on: date, *, tax_rate: Decimal, daily_rate: Decimal
) -> Charges:
    """The fee and the interest on ``value`` due on ``due_date``, as of the store's ``on``."""
    days = rules.days_overdue(due_date, rules.calendar_day(on))
    if days == 0 or value_cents == 0:
        return Charges(days, 0, 0)
    value = Decimal(value_cents)
    return Charges(days, _cents(value * tax_rate), _cents(value * daily_rate * days))


@dataclass(frozen=True)
class Quote:
    """What an invoice asks for on ``as_of``: its value, its charges and the sum of them.

    A paid or cancelled invoice is due nothing; a paid one carries the charges that were
    received with it.
    """

    as_of: date
    charges: Charges
    amount_due_cents: int


class Quotable(Protocol):
    """What a quote reads: an ``Invoice``, or a row of its columns (the export's)."""

    @property
    def status(self) -> str: ...
    @property
    def value_cents(self) -> int: ...
    @property
    def due_date(self) -> date: ...
    @property
    def late_fee_cents(self) -> int: ...
    @property
    def interest_cents(self) -> int: ...


def quote_invoice(invoice: Quotable, settings: StoreSettings, as_of: date) -> Quote:
    """The amount due on an invoice on the store's day ``as_of`` (a payoff quote)."""
    if invoice.status != InvoiceStatus.OPENED:
        recorded = Charges(0, invoice.late_fee_cents, invoice.interest_cents)
        return Quote(as_of, recorded, 0)
    charges = late_charges(
        invoice.value_cents,
        invoice.due_date,
        as_of,
        tax_rate=settings.tax_rate,
        daily_rate=settings.daily_interest_rate,
    )
    return Quote(as_of, charges, invoice.value_cents + charges.total_cents)


def split_received(charges: Charges, charged_cents: int) -> tuple[int, int]:
    """What was received above the value, as (fee, interest): the fee first.

    A store may take less than the charges quoted (it waived some); what it takes is
    booked as fee up to the fee quoted, the rest as interest.
    """
    fee = min(charges.late_fee_cents, charged_cents)
    return fee, charged_cents - fee
