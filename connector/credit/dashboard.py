"""The dashboard's figures: open invoices by age, credit in use over time, store totals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from connector.credit import rules
from connector.credit.invoice_search import OVERDUE, InvoiceFilter, invoice_summary
from connector.credit.models import (
    Account,
    AccountStatus,
    Invoice,
    InvoiceStatus,
    Origin,
    StatementEntry,
)

AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


@dataclass(frozen=True)
class AgingBucket:
    name: str  # one of AGING_BUCKETS
    count: int
    total_cents: int


def invoice_aging(
    session: Session, today: date, *, account_id: str | None = None
) -> list[AgingBucket]:
    """Open invoices by age on the store's ``today``: not yet overdue, then 1-30, 31-60,
    61-90 and over 90 days overdue (``rules.days_overdue``)."""
    day, today = timedelta(days=1), rules.calendar_day(today)
    bucket = case(
        (Invoice.due_date >= today, 0),
        (Invoice.due_date >= today - 30 * day, 1),
        (Invoice.due_date >= today - 60 * day, 2),
        (Invoice.due_date >= today - 90 * day, 3),
        else_=4,
    )
    query = (
        select(bucket, func.count(), func.coalesce(func.sum(Invoice.value_cents), 0))
        .where(Invoice.status == InvoiceStatus.OPENED)
        .group_by(bucket)
    )
    if account_id is not None:
        query = query.where(Invoice.account_id == account_id)
    found = {int(b): (int(c), int(t)) for b, c, t in session.execute(query)}
    return [
        AgingBucket(name, *found.get(index, (0, 0))) for index, name in enumerate(AGING_BUCKETS)
    ]


@dataclass(frozen=True)
class UsePoint:
    at: datetime
    used_cents: int  # invoiced credit not yet paid or cancelled (minus the balance), >= 0
    limit_cents: int | None  # the account's limit then (None on the store-wide series)


def credit_use_series(
    session: Session,
    now: datetime,
    *,
    account_id: str | None = None,
    days: int = 90,
    points: int = 13,
) -> list[UsePoint]:
    """Credit in use at evenly spaced moments over the last ``days``, from the ledger.

    In use is minus the balance (the non-``Credit`` entries up to that moment): invoices
    issued less what was paid, cancelled, refunded or adjusted. Reservations are not
    history (they change in place), so the series counts invoiced credit only.
    """
    step = timedelta(days=days) / (points - 1)
    moments = [now - step * (points - 1 - i) for i in range(points)]
    scope: list[ColumnElement[bool]] = [StatementEntry.origin != Origin.CREDIT]
    if account_id is not None:
        scope.append(StatementEntry.account_id == account_id)
    columns = [
        func.coalesce(
            func.sum(case((StatementEntry.created_at <= moment, StatementEntry.value_cents))), 0
        )
        for moment in moments
    ]
    balances = session.execute(select(*columns).where(*scope)).one()
    limits: list[int | None] = [None] * points
    if account_id is not None:
        changes = session.execute(
            select(StatementEntry.created_at, StatementEntry.details)
            .where(
                StatementEntry.account_id == account_id,
                StatementEntry.origin == Origin.CREDIT,
            )
            .order_by(StatementEntry.created_at, StatementEntry.id)
        ).all()
        for index, moment in enumerate(moments):
            current = None
            for created_at, details in changes:
                if created_at > moment:
                    break
                current = int(details.get("creditLimit", 0))
            limits[index] = current
    return [
        UsePoint(moment, max(0, -int(balance)), limit)
        for moment, balance, limit in zip(moments, balances, limits, strict=True)
    ]


@dataclass(frozen=True)
class StoreTotals:
    """The dashboard's figures across the store's open accounts."""

    open_accounts: int
    limit_cents: int
    reserved_cents: int
    open_count: int
    open_cents: int
    overdue_count: int
    overdue_cents: int


def store_totals(session: Session, today: date) -> StoreTotals:
    accounts = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Account.credit_limit_cents), 0),
            func.coalesce(func.sum(Account.reserved_cents), 0),
        ).where(Account.status == AccountStatus.OPEN)
    ).one()
    summary = invoice_summary(session, InvoiceFilter(statuses=(InvoiceStatus.OPENED,)), today)
    overdue = invoice_summary(session, InvoiceFilter(statuses=(OVERDUE,)), today)
    return StoreTotals(
        open_accounts=int(accounts[0]),
        limit_cents=int(accounts[1]),
        reserved_cents=int(accounts[2]),
        open_count=summary.count,
        open_cents=summary.opened_cents,
        overdue_count=overdue.count,
        overdue_cents=overdue.overdue_cents,
    )


def owner_emails(session: Session, account_ids: Sequence[str] | set[str]) -> dict[str, str]:
    """The owner's e-mail of each account, for lists that show invoices."""
    if not account_ids:
        return {}
    rows = session.execute(select(Account.id, Account.email).where(Account.id.in_(account_ids)))
    return {account_id: email for account_id, email in rows}


# Batched lookups by key, for bulk imports: one query per slice of keys, not one per row.
