"""Read-side queries shared by the API, the exports and the admin: filters, order, summary.

Filters combine with ``and`` (every one must hold) or ``or`` (any one), as the public
API's ``op`` parameter says. Listing is ordered by ``(created_at, id)``, which the indexes
cover, so pages are stable even while rows are added.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from connector.credit import rules
from connector.credit.ledger import in_slices
from connector.credit.models import (
    ACCOUNT_CLOSED,
    ACCOUNT_OPEN,
    INVOICE_CANCELLED,
    INVOICE_OPENED,
    INVOICE_PAID,
    ORIGIN_CREDIT,
    Account,
    Holder,
    Invoice,
    StatementEntry,
)
from connector.errors import NotFound, ValidationError

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


# The account lists' status choices (no status: every account).
ACCOUNT_STATUS_CHOICES: dict[str, tuple[str, ...]] = {
    "open": (ACCOUNT_OPEN,),
    "closed": (ACCOUNT_CLOSED,),
    "all": (),
}


@dataclass(frozen=True)
class AccountFilter:
    email: str | None = None  # the owner's e-mail, exact (case-insensitive)
    document: str | None = None
    statuses: tuple[str, ...] = (ACCOUNT_OPEN,)  # closed accounts are hidden unless asked
    ids: tuple[str, ...] = ()
    op: Literal["and", "or"] = "and"
    # The admin list's filters, always combined with AND (see account_search_condition).
    search: str | None = None
    overdue_at: datetime | None = None  # only accounts with an invoice overdue at this moment


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
    narrowed = [status, matched]
    if f.search and f.search.strip():
        narrowed.append(account_search_condition(f.search))
    if f.overdue_at is not None:
        narrowed.append(has_overdue_condition(f.overdue_at))
    order = (
        (Account.created_at.desc(), Account.id.desc())
        if direction == "desc"
        else (Account.created_at.asc(), Account.id.asc())
    )
    return select(Account).where(and_(*narrowed)).order_by(*order)


def count_rows(session: Session, query: Select[Any]) -> int:
    return int(
        session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    )


def get_account(session: Session, account_id: str) -> Account:
    """An account, open or closed, or a 404."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"account {account_id!r} not found", code="account_not_found")
    return account


def get_invoice(session: Session, account_id: str, invoice_id: str) -> Invoice:
    """An invoice of an account; an invoice of another account is not found."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.account_id != account_id:
        raise NotFound(f"invoice {invoice_id!r} not found", code="invoice_not_found")
    return invoice


MAX_STATEMENT_ENTRIES = 10_000


@dataclass(frozen=True)
class Statement:
    """An account's entries in a period, with the balance before, within and now.

    Balances count every entry but ``Credit`` (which moves the limit, not the balance),
    so ``previous + interval`` is the balance at the end of the period and, for a period
    that ends now, equals ``current``.
    """

    entries: list[StatementEntry]
    previous_cents: int
    interval_cents: int
    current_cents: int

    @property
    def closing_cents(self) -> int:
        """The balance at the end of the period."""
        return self.previous_cents + self.interval_cents


def account_statement(
    session: Session,
    account_id: str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    max_entries: int = MAX_STATEMENT_ENTRIES,
    newest_first: bool = False,
) -> Statement:
    """The entries of ``[start, end]`` (oldest first unless ``newest_first``), or a
    refusal when there are too many.

    A statement is never cut short silently: a period with more than ``max_entries``
    entries is refused, naming the parameter to narrow.
    """
    account = get_account(session, account_id)
    in_period: list[ColumnElement[bool]] = [StatementEntry.account_id == account_id]
    if start is not None:
        in_period.append(StatementEntry.created_at >= start)
    if end is not None:
        in_period.append(StatementEntry.created_at <= end)
    entries = list(
        session.scalars(
            select(StatementEntry)
            .where(*in_period)
            .order_by(
                *(
                    (StatementEntry.created_at.desc(), StatementEntry.id.desc())
                    if newest_first
                    else (StatementEntry.created_at, StatementEntry.id)
                )
            )
            .limit(max_entries + 1)
        )
    )
    if len(entries) > max_entries:
        raise ValidationError(
            f"the period holds more than {max_entries} entries; ask for a shorter one",
            code="period_too_long",
            fields={"dateFrom": f"the period holds more than {max_entries} entries"},
        )

    previous = 0
    if start is not None:  # the balance before the period: every non-Credit entry before it
        previous = int(
            session.scalar(
                select(func.coalesce(func.sum(StatementEntry.value_cents), 0)).where(
                    StatementEntry.account_id == account_id,
                    StatementEntry.origin != ORIGIN_CREDIT,
                    StatementEntry.created_at < start,
                )
            )
            or 0
        )
    interval = sum(e.value_cents for e in entries if e.origin != ORIGIN_CREDIT)
    return Statement(entries, previous, interval, account.balance_cents)


# --- Read-side queries of the admin and My Credits pages --------------------------------

AccountSort = Literal["created", "email", "limit", "available", "id"]
InvoiceSort = Literal["created", "due", "value"]


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")  # type: ignore[no-any-return]


def account_search_condition(text: str) -> ColumnElement[bool]:
    """Accounts whose id, owner or dependent e-mail, or document contains ``text``.

    The document is compared without its mask (dots, dashes, slashes, spaces), as stored.
    """
    text = text.strip()
    conditions = [_contains(Account.id, text), _contains(Account.email, text.lower())]
    document = "".join(ch for ch in text if ch.isalnum()).upper()
    if document:
        conditions.append(_contains(Account.document, document))
    holder_match = (
        select(Holder.id)
        .where(
            Holder.account_id == Account.id,
            Holder.removed_at.is_(None),
            _contains(Holder.email, text.lower()),
        )
        .exists()
    )
    conditions.append(holder_match)
    return or_(*conditions)


def has_overdue_condition(now: datetime) -> ColumnElement[bool]:
    """Accounts with at least one Opened invoice whose due date has passed."""
    return (
        select(Invoice.id)
        .where(
            Invoice.account_id == Account.id,
            Invoice.status == INVOICE_OPENED,
            Invoice.due_date < now,
        )
        .exists()
    )


def admin_account_select(
    f: AccountFilter,
    *,
    search: str | None = None,
    has_overdue: bool = False,
    now: datetime | None = None,
    sort: AccountSort = "created",
    direction: Direction = "desc",
) -> Select[Account]:
    """``account_select`` plus free-text search, "has overdue invoices" and a sort order."""
    query = account_select(f, direction=direction).order_by(None)
    if search and search.strip():
        query = query.where(account_search_condition(search))
    if has_overdue:
        if now is None:
            raise ValueError("has_overdue needs now")
        query = query.where(has_overdue_condition(now))
    # The credit rule itself, applied to columns so that the database can sort by it.
    figures: Any = (Account.credit_limit_cents, Account.balance_cents, Account.reserved_cents)
    available = rules.available_credit(*figures)
    column: Any = {
        "created": Account.created_at,
        "email": Account.email,
        "limit": Account.credit_limit_cents,
        "available": available,
        "id": Account.id,
    }[sort]
    if direction == "desc":
        return query.order_by(column.desc(), Account.id.desc())
    return query.order_by(column.asc(), Account.id.asc())


def sorted_invoice_select(
    f: InvoiceFilter, now: datetime, *, sort: InvoiceSort = "created", direction: Direction = "desc"
) -> Select[Invoice]:
    """``invoice_select`` ordered by creation, due date or value (ties by id)."""
    column: Any = {
        "created": Invoice.created_at,
        "due": Invoice.due_date,
        "value": Invoice.value_cents,
    }[sort]
    order = (column.desc(), Invoice.id.desc()) if direction == "desc" else (column, Invoice.id)
    return invoice_select(f, now).order_by(None).order_by(*order)


AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


@dataclass(frozen=True)
class AgingBucket:
    name: str  # one of AGING_BUCKETS
    count: int
    total_cents: int


def invoice_aging(
    session: Session, now: datetime, *, account_id: str | None = None
) -> list[AgingBucket]:
    """Open invoices by age: not yet due, then 1-30, 31-60, 61-90 and over 90 days overdue."""
    day = timedelta(days=1)
    bucket = case(
        (Invoice.due_date >= now, 0),
        (Invoice.due_date >= now - 30 * day, 1),
        (Invoice.due_date >= now - 60 * day, 2),
        (Invoice.due_date >= now - 90 * day, 3),
        else_=4,
    )
    query = (
        select(bucket, func.count(), func.coalesce(func.sum(Invoice.value_cents), 0))
        .where(Invoice.status == INVOICE_OPENED)
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
    scope: list[ColumnElement[bool]] = [StatementEntry.origin != ORIGIN_CREDIT]
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
                StatementEntry.origin == ORIGIN_CREDIT,
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


def store_totals(session: Session, now: datetime) -> StoreTotals:
    accounts = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Account.credit_limit_cents), 0),
            func.coalesce(func.sum(Account.reserved_cents), 0),
        ).where(Account.status == ACCOUNT_OPEN)
    ).one()
    summary = invoice_summary(session, InvoiceFilter(statuses=(INVOICE_OPENED,)), now)
    overdue = invoice_summary(session, InvoiceFilter(statuses=(OVERDUE,)), now)
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


def accounts_by_id(session: Session, ids: Iterable[str]) -> dict[str, Account]:
    """Accounts (open or closed) by id; missing ids are absent."""
    found: dict[str, Account] = {}
    for part in in_slices(ids):
        found.update(
            {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(part)))}
        )
    return found


def open_accounts_by_document(
    session: Session, documents: Iterable[str]
) -> dict[str, list[Account]]:
    """Open accounts by (normalized) document; one document may have several types."""
    found: dict[str, list[Account]] = {}
    for part in in_slices(documents):
        query = select(Account).where(Account.document.in_(part), Account.status == ACCOUNT_OPEN)
        for account in session.scalars(query.order_by(Account.id)):
            found.setdefault(account.document or "", []).append(account)
    return found


def open_accounts_by_email(session: Session, emails: Iterable[str]) -> dict[str, Account]:
    """Open accounts by their owner's (normalized) e-mail, which is unique among open ones."""
    found: dict[str, Account] = {}
    for part in in_slices(emails):
        query = select(Account).where(Account.email.in_(part), Account.status == ACCOUNT_OPEN)
        found.update({a.email: a for a in session.scalars(query)})
    return found


def invoices_by_id(session: Session, ids: Iterable[str]) -> dict[str, Invoice]:
    found: dict[str, Invoice] = {}
    for part in in_slices(ids):
        found.update(
            {i.id: i for i in session.scalars(select(Invoice).where(Invoice.id.in_(part)))}
        )
    return found
