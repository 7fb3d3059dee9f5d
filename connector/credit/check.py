"""Recompute every account's figures from its entries, reservations and invoices.

The cached figures on ``accounts`` are an optimization; the entries are the truth. A
drift between them is a bug, and this check is how it gets found. The sums run in the
database, so only drifting rows travel.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from connector.credit import rules
from connector.credit.models import (
    Account,
    Invoice,
    InvoiceStatus,
    Origin,
    Reservation,
    ReservationStatus,
    StatementEntry,
)


@dataclass(frozen=True)
class Drift:
    account_id: str
    figure: str
    cached: int
    computed: int
    subject: str | None = None  # an invoice id, for per-invoice drift

    def describe(self) -> str:
        where = f" ({self.subject})" if self.subject else ""
        return (
            f"{self.account_id}{where}: {self.figure} is {self.cached}, "
            f"entries give {self.computed}"
        )


def _balance_drift(session: Session) -> Iterator[Drift]:
    sums = (
        select(StatementEntry.account_id, func.sum(StatementEntry.value_cents).label("total"))
        .where(StatementEntry.origin != Origin.CREDIT)
        .group_by(StatementEntry.account_id)
        .subquery()
    )
    computed = func.coalesce(sums.c.total, 0)
    rows = session.execute(
        select(Account.id, Account.balance_cents, computed)
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance_cents != computed)
    )
    for account_id, cached, total in rows:
        yield Drift(account_id, "balance_cents", cached, int(total))


def _reserved_drift(session: Session) -> Iterator[Drift]:
    sums = (
        select(Reservation.account_id, func.sum(Reservation.value_cents).label("total"))
        .where(Reservation.status == ReservationStatus.PENDING)
        .group_by(Reservation.account_id)
        .subquery()
    )
    computed = func.coalesce(sums.c.total, 0)
    rows = session.execute(
        select(Account.id, Account.reserved_cents, computed)
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.reserved_cents != computed)
    )
    for account_id, cached, total in rows:
        yield Drift(account_id, "reserved_cents", cached, int(total))


def _credit_drift(session: Session) -> Iterator[Drift]:
    """The ``Credit`` entries must add up to ``limit * (1 + tolerance)``."""
    sums = (
        select(StatementEntry.account_id, func.sum(StatementEntry.value_cents).label("total"))
        .where(StatementEntry.origin == Origin.CREDIT)
        .group_by(StatementEntry.account_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Account.id,
            Account.credit_limit_cents,
            Account.tolerance_bps,
            func.coalesce(sums.c.total, 0),
        ).outerjoin(sums, sums.c.account_id == Account.id)
    ).yield_per(10_000)
    for account_id, limit, tolerance, total in rows:
        capacity = rules.credit_capacity(limit, tolerance)
        if capacity != total:
            yield Drift(account_id, "credit_capacity_cents", capacity, int(total))


def _invoice_drift(session: Session) -> Iterator[Drift]:
    """An open invoice's entries sum to minus its value; a resolved one's to zero."""
    sums = (
        select(StatementEntry.invoice_id, func.sum(StatementEntry.value_cents).label("total"))
        .where(StatementEntry.invoice_id.is_not(None))
        .group_by(StatementEntry.invoice_id)
        .subquery()
    )
    expected = case((Invoice.status == InvoiceStatus.OPENED, -Invoice.value_cents), else_=0)
    computed = func.coalesce(sums.c.total, 0)
    rows = session.execute(
        select(Invoice.account_id, Invoice.id, expected, computed)
        .outerjoin(sums, sums.c.invoice_id == Invoice.id)
        .where(expected != computed)
    )
    for account_id, invoice_id, want, total in rows:
        yield Drift(account_id, "invoice_entries_cents", int(want), int(total), invoice_id)


def find_drift(session: Session) -> list[Drift]:
    """Every difference between cached figures and what the ledger gives."""
    return [
        *_balance_drift(session),
        *_reserved_drift(session),
        *_credit_drift(session),
        *_invoice_drift(session),
    ]
