"""Finding accounts: the API's search, the admin's list (free text, overdue, sort) and the
account export, on one filter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.orm import Session

from connector.credit import rules
from connector.credit.identity import canonical_email
from connector.credit.invoice_search import Direction, contains, overdue
from connector.credit.models import Account, AccountStatus, Holder, Invoice
from connector.errors import Code, NotFound

AccountSort = Literal["created", "email", "limit", "available", "id"]

# The account lists' status choices (no status: every account).
ACCOUNT_STATUS_CHOICES: dict[str, tuple[str, ...]] = {
    "open": (AccountStatus.OPEN,),
    "closed": (AccountStatus.CLOSED,),
    "all": (),
}


@dataclass(frozen=True)
class AccountFilter:
    email: str | None = None  # the owner's e-mail, exact (case-insensitive)
    document: str | None = None
    company_name: str | None = None  # part of the company name, in any case
    statuses: tuple[str, ...] = (AccountStatus.OPEN,)  # closed accounts are hidden unless asked
    ids: tuple[str, ...] = ()
    op: Literal["and", "or"] = "and"
    # The admin list's filters, always combined with AND (see account_search_condition).
    search: str | None = None
    overdue_on: date | None = None  # only accounts with an invoice overdue on this store date


def account_select(f: AccountFilter, *, direction: Direction = "desc") -> Select[Account]:
    conditions: list[ColumnElement[bool]] = []
    if f.email:
        conditions.append(Account.email == canonical_email(f.email))
    if f.document:
        conditions.append(Account.document == f.document)
    if f.company_name and f.company_name.strip():
        conditions.append(contains(Account.company_name, f.company_name.strip()))
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
    if f.overdue_on is not None:
        narrowed.append(has_overdue_condition(f.overdue_on))
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
        raise NotFound(
            "account {account} not found", code=Code.ACCOUNT_NOT_FOUND, account=account_id
        )
    return account


def account_search_condition(text: str) -> ColumnElement[bool]:
    """Accounts whose id, owner or dependent e-mail, company name or document contains
    ``text``.

    The document is compared without its mask (dots, dashes, slashes, spaces), as stored.
    """
    text = text.strip()
    conditions = [
        contains(Account.id, text),
        contains(Account.email, text.lower()),
        contains(Account.company_name, text),
    ]
    document = "".join(ch for ch in text if ch.isalnum()).upper()
    if document:
        conditions.append(contains(Account.document, document))
    holder_match = (
        select(Holder.id)
        .where(
            Holder.account_id == Account.id,
            Holder.removed_at.is_(None),
            contains(Holder.email, text.lower()),
        )
        .exists()
    )
    conditions.append(holder_match)
    return or_(*conditions)


def has_overdue_condition(today: date) -> ColumnElement[bool]:
    """Accounts with at least one overdue invoice."""
    return select(Invoice.id).where(Invoice.account_id == Account.id, overdue(today)).exists()


def sorted_account_select(
    f: AccountFilter, *, sort: AccountSort = "created", direction: Direction = "desc"
) -> Select[Account]:
    """``account_select`` in another order: by creation, e-mail, limit, available credit
    or id (ties by id)."""
    query = account_select(f, direction=direction).order_by(None)
    # The credit rule itself, applied to columns so that the database can sort by it.
    available = rules.available_credit(
        Account.credit_limit_cents, Account.balance_cents, Account.reserved_cents
    )
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
