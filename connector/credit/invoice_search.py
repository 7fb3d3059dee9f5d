"""Finding invoices: the filters of the API's search, the lists and the exports, their
order, and the summary of every match.

Filters combine with ``and`` (every one must hold) or ``or`` (any one), as the public
API's ``op`` parameter says. Listing is ordered by ``(created_at, id)``, which the indexes
cover, so pages are stable even while rows are added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from connector.credit import rules
from connector.credit.models import Invoice, InvoiceStatus
from connector.errors import Code, NotFound

OVERDUE = "Overdue"  # a status to filter by, never stored: see rules.is_overdue

Direction = Literal["asc", "desc"]
InvoiceSort = Literal["created", "due", "value"]


def overdue(today: date) -> ColumnElement[bool]:
    """The overdue rule on the invoice's columns."""
    condition: ColumnElement[bool] = rules.is_overdue(Invoice.status, Invoice.due_date, today)
    return condition


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """A case-insensitive substring match, with the pattern's wildcards escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class InvoiceFilter:
    """Every way to narrow a list of invoices; ``None`` means "any"."""

    account_id: str | None = None
    statuses: tuple[str, ...] = ()  # Opened, Paid, Cancelled, Overdue
    created_from: datetime | None = None
    created_to: datetime | None = None
    due_from: date | None = None  # due dates are the store's dates
    due_to: date | None = None
    value_cents: int | None = None
    friendly_id: str | None = None
    observation: str | None = None  # matched as a case-insensitive substring
    order_id: str | None = None
    op: Literal["and", "or"] = "and"


def _status_condition(statuses: Sequence[str], today: date) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    stored = [s for s in statuses if s != OVERDUE]
    if stored:
        conditions.append(Invoice.status.in_(stored))
    if OVERDUE in statuses:
        conditions.append(overdue(today))
    return or_(*conditions)


def invoice_conditions(f: InvoiceFilter, today: date) -> list[ColumnElement[bool]]:
    """The filter's conditions, other than the account (which always applies)."""
    conditions: list[ColumnElement[bool]] = []
    if f.statuses:
        conditions.append(_status_condition(f.statuses, today))
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
        conditions.append(contains(Invoice.observation, f.observation))
    if f.order_id:
        conditions.append(Invoice.order_id == f.order_id)
    return conditions


def _where(f: InvoiceFilter, today: date) -> ColumnElement[bool]:
    conditions = invoice_conditions(f, today)
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
    f: InvoiceFilter, today: date, *, direction: Direction = "desc"
) -> Select[Invoice]:
    """Invoices matching ``f``, newest first by default, in a stable order."""
    order = (
        (Invoice.created_at.desc(), Invoice.id.desc())
        if direction == "desc"
        else (Invoice.created_at.asc(), Invoice.id.asc())
    )
    return select(Invoice).where(_where(f, today)).order_by(*order)


@dataclass(frozen=True)
class InvoiceSummary:
    count: int
    total_cents: int
    paid_cents: int
    cancelled_cents: int
    opened_cents: int = 0
    overdue_cents: int = 0


def invoice_summary(session: Session, f: InvoiceFilter, today: date) -> InvoiceSummary:
    """Count and totals of every invoice matching ``f`` (not only one page)."""

    def total_where(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, Invoice.value_cents), else_=0)), 0)

    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Invoice.value_cents), 0),
            total_where(Invoice.status == InvoiceStatus.PAID),
            total_where(Invoice.status == InvoiceStatus.CANCELLED),
            total_where(Invoice.status == InvoiceStatus.OPENED),
            total_where(overdue(today)),
        ).where(_where(f, today))
    ).one()
    return InvoiceSummary(*(int(v) for v in row))


def search_invoices(
    session: Session,
    f: InvoiceFilter,
    today: date,
    *,
    offset: int = 0,
    limit: int = 50,
    direction: Direction = "desc",
) -> list[Invoice]:
    return list(
        session.scalars(invoice_select(f, today, direction=direction).offset(offset).limit(limit))
    )


def get_invoice(session: Session, account_id: str, invoice_id: str) -> Invoice:
    """An invoice of an account; an invoice of another account is not found."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.account_id != account_id:
        raise NotFound(
            "invoice {invoice} not found", code=Code.INVOICE_NOT_FOUND, invoice=invoice_id
        )
    return invoice


def sorted_invoice_select(
    f: InvoiceFilter, today: date, *, sort: InvoiceSort = "created", direction: Direction = "desc"
) -> Select[Invoice]:
    """``invoice_select`` ordered by creation, due date or value (ties by id)."""
    column: Any = {
        "created": Invoice.created_at,
        "due": Invoice.due_date,
        "value": Invoice.value_cents,
    }[sort]
    order = (column.desc(), Invoice.id.desc()) if direction == "desc" else (column, Invoice.id)
    return invoice_select(f, today).order_by(None).order_by(*order)
