"""Read-side queries shared by the API, the exports and the admin: filters, order, summary.

Filters combine with ``and`` (every one must hold) or ``or`` (any one), as the public
API's ``op`` parameter says. Listing is ordered by ``(created_at, id)``, which the indexes
cover, so pages are stable even while rows are added.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from connector.credit.models import (
    ACCOUNT_OPEN,
    INVOICE_CANCELLED,
    INVOICE_OPENED,
    INVOICE_PAID,
    Account,
    Invoice,
)

OVERDUE = "Overdue"  # not stored: an Opened invoice whose due date has passed

Direction = Literal["asc", "desc"]


@dataclass(frozen=True)
class InvoiceFilter:
    """Every way to narrow a list of invoices; ``None`` means "any"."""

    account_id: str | None = None
    statuses: tuple[str, ...] = ()  # Opened, Paid, Cancelled, Overdue
    created_from: datetime | None = None
    created_to: datetime | None = None
    due_from: datetime | None = None
    due_to: datetime | None = None
    value_cents: int | None = None
    friendly_id: str | None = None
    observation: str | None = None  # matched as a case-insensitive substring
    order_id: str | None = None
    op: Literal["and", "or"] = "and"


def _status_condition(statuses: Sequence[str], now: datetime) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    stored = [s for s in statuses if s != OVERDUE]
    if stored:
        conditions.append(Invoice.status.in_(stored))
    if OVERDUE in statuses:
        conditions.append(and_(Invoice.status == INVOICE_OPENED, Invoice.due_date < now))
    return or_(*conditions)


def invoice_conditions(f: InvoiceFilter, now: datetime) -> list[ColumnElement[bool]]:
    """The filter's conditions, other than the account (which always applies)."""
    conditions: list[ColumnElement[bool]] = []
    if f.statuses:
        conditions.append(_status_condition(f.statuses, now))
    if f.created_from is not None:
        conditions.append(Invoice.created_at >= f.created_from)
    if f.created_to is not None:
        conditions.append(Invoice.created_at <= f.created_to)
    if f.due_from is not None:
        conditions.append(Invoice.due_date >= f.due_from)
    if f.due_to is not None:
        conditions.append(Invoice.due_date <= f.due_to)
    if f.value_cents is not None:
        conditions.append(Invoice.value_cents == f.value_cents)
    if f.friendly_id:
        conditions.append(Invoice.friendly_id == f.friendly_id)
    if f.observation:
        escaped = f.observation.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Invoice.observation.ilike(f"%{escaped}%", escape="\\"))
    if f.order_id:
        conditions.append(Invoice.order_id == f.order_id)
    return conditions


def _where(f: InvoiceFilter, now: datetime) -> ColumnElement[bool]:
    conditions = invoice_conditions(f, now)
    if not conditions:
        combined: ColumnElement[bool] = true()
    elif f.op == "or":
        combined = or_(*conditions)
    else:
        combined = and_(*conditions)
    if f.account_id is not None:
        combined = and_(Invoice.account_id == f.account_id, combined)
    return combined


def invoice_select(
    f: InvoiceFilter, now: datetime, *, direction: Direction = "desc"
) -> Select[Invoice]:
    """Invoices matching ``f``, newest first by default, in a stable order."""
    order = (
        (Invoice.created_at.desc(), Invoice.id.desc())
        if direction == "desc"
        else (Invoice.created_at.asc(), Invoice.id.asc())
    )
    return select(Invoice).where(_where(f, now)).order_by(*order)


@dataclass(frozen=True)
class InvoiceSummary:
    count: int
    total_cents: int
    paid_cents: int
    cancelled_cents: int
    opened_cents: int = 0
    overdue_cents: int = 0


def invoice_summary(session: Session, f: InvoiceFilter, now: datetime) -> InvoiceSummary:
    """Count and totals of every invoice matching ``f`` (not only one page)."""

    def total_where(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, Invoice.value_cents), else_=0)), 0)

    overdue = and_(Invoice.status == INVOICE_OPENED, Invoice.due_date < now)
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Invoice.value_cents), 0),
            total_where(Invoice.status == INVOICE_PAID),
            total_where(Invoice.status == INVOICE_CANCELLED),
            total_where(Invoice.status == INVOICE_OPENED),
            total_where(overdue),
        ).where(_where(f, now))
    ).one()
    return InvoiceSummary(*(int(v) for v in row))


def search_invoices(
    session: Session,
    f: InvoiceFilter,
    now: datetime,
    *,
    offset: int = 0,
    limit: int = 50,
    direction: Direction = "desc",
) -> list[Invoice]:
    return list(
        session.scalars(invoice_select(f, now, direction=direction).offset(offset).limit(limit))
    )


@dataclass(frozen=True)
class AccountFilter:
    email: str | None = None  # the owner's e-mail, exact (case-insensitive)
    document: str | None = None
    statuses: tuple[str, ...] = (ACCOUNT_OPEN,)  # closed accounts are hidden unless asked
    ids: tuple[str, ...] = ()
    op: Literal["and", "or"] = "and"


def account_select(f: AccountFilter, *, direction: Direction = "desc") -> Select[Account]:
    conditions: list[ColumnElement[bool]] = []
    if f.email:
        conditions.append(Account.email == f.email.strip().lower())
    if f.document:
        conditions.append(Account.document == f.document)
    if f.ids:
        conditions.append(Account.id.in_(f.ids))
    if not conditions:
        matched: ColumnElement[bool] = true()
    else:
        matched = or_(*conditions) if f.op == "or" else and_(*conditions)
    status = Account.status.in_(f.statuses) if f.statuses else true()
    order = (
        (Account.created_at.desc(), Account.id.desc())
        if direction == "desc"
        else (Account.created_at.asc(), Account.id.asc())
    )
    return select(Account).where(and_(status, matched)).order_by(*order)


def count_rows(session: Session, query: Select[Any]) -> int:
    return int(
        session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    )


# Batched lookups by key, for bulk imports: one query per slice of keys, not one per row.

_SLICE = 900  # far below SQLite's bound-parameter limit


def _slices(values: Iterable[str]) -> Iterator[list[str]]:
    wanted = sorted(set(values))
    for start in range(0, len(wanted), _SLICE):
        yield wanted[start : start + _SLICE]


def accounts_by_id(session: Session, ids: Iterable[str]) -> dict[str, Account]:
    """Accounts (open or closed) by id; missing ids are absent."""
    found: dict[str, Account] = {}
    for part in _slices(ids):
        found.update(
            {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(part)))}
        )
    return found


def open_accounts_by_document(
    session: Session, documents: Iterable[str]
) -> dict[str, list[Account]]:
    """Open accounts by (normalized) document; one document may have several types."""
    found: dict[str, list[Account]] = {}
    for part in _slices(documents):
        query = select(Account).where(Account.document.in_(part), Account.status == ACCOUNT_OPEN)
        for account in session.scalars(query.order_by(Account.id)):
            found.setdefault(account.document or "", []).append(account)
    return found


def open_accounts_by_email(session: Session, emails: Iterable[str]) -> dict[str, Account]:
    """Open accounts by their owner's (normalized) e-mail, which is unique among open ones."""
    found: dict[str, Account] = {}
    for part in _slices(emails):
        query = select(Account).where(Account.email.in_(part), Account.status == ACCOUNT_OPEN)
        found.update({a.email: a for a in session.scalars(query)})
    return found


def invoices_by_id(session: Session, ids: Iterable[str]) -> dict[str, Invoice]:
    found: dict[str, Invoice] = {}
    for part in _slices(ids):
        found.update(
            {i.id: i for i in session.scalars(select(Invoice).where(Invoice.id.in_(part)))}
        )
    return found
