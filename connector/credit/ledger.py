"""Locking an account and writing its statement entries: the ledger's two primitives.

Every service that changes credit starts with ``lock_account`` and writes money only
through ``post_entry``, so the cached ``balance_cents`` moves with the entries, in the
same transaction, under the same lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.orm import Session

from connector.credit.models import (
    Account,
    AccountStatus,
    Invoice,
    Origin,
    Reservation,
    StatementEntry,
)
from connector.errors import Code, CreditDenied, NotFound
from connector.ids import new_id, new_ids

# Values per IN (...) list: far below SQLite's 32766 bound parameters, small enough for a plan.
IN_BATCH = 900


def in_slices(values: Iterable[str]) -> Iterator[list[str]]:
    """The distinct values in sorted slices of ``IN_BATCH``: one ``IN (...)`` query each."""
    wanted = sorted(set(values))
    for start in range(0, len(wanted), IN_BATCH):
        yield wanted[start : start + IN_BATCH]


def _locks(session: Session) -> dict[str, Account]:
    """The accounts locked in the current (innermost) transaction of a session.

    A savepoint starts with its parent's locks, which it keeps whatever happens to it;
    the locks taken inside a savepoint that is rolled back are released with it, so they
    are recorded for that savepoint only. It holds the accounts themselves: the session's
    identity map keeps only weak references, and a locked account nobody holds would
    otherwise be loaded again.
    """
    root = session.get_transaction()
    if session.info.get("locks_root") is not root:
        session.info["locks_root"] = root
        session.info["locks"] = {}
    by_transaction: dict[Any, dict[str, Account]] = session.info["locks"]
    current = session.get_nested_transaction() or root
    locked = by_transaction.get(current)
    if locked is None:
        parent = getattr(current, "parent", None)
        locked = by_transaction[current] = dict(by_transaction.get(parent, {}))
    return locked


def lock_accounts_where(session: Session, query: Select[Account]) -> Account | None:
    """Load the one account a query finds, holding its row lock until the transaction ends.

    ``FOR UPDATE`` on PostgreSQL; on SQLite every transaction already holds the write
    lock from BEGIN IMMEDIATE. ``populate_existing`` refreshes a copy loaded earlier in
    the session, so what the caller reads is what the lock protects.
    """
    account = session.scalars(
        query.with_for_update(of=Account).execution_options(populate_existing=True)
    ).first()
    if account is not None:
        _locks(session)[account.id] = account
    return account


def lock_account(session: Session, account_id: str) -> Account:
    """Load an account holding its row lock; free when this transaction already holds it."""
    held = _locks(session).get(account_id)
    if held is not None:
        return held
    account = lock_accounts_where(session, select(Account).where(Account.id == account_id))
    if account is None:
        raise NotFound(
            "account {account} not found", code=Code.ACCOUNT_NOT_FOUND, account=account_id
        )
    return account


def lock_accounts(session: Session, account_ids: Iterable[str]) -> dict[str, Account]:
    """Lock several accounts at once, in id order so two batches never deadlock.

    Ids with no account are simply absent from the result; accounts this transaction
    already holds are not asked for again (as in ``lock_account``).
    """
    held = _locks(session)
    wanted = set(account_ids)
    locked = {account_id: held[account_id] for account_id in wanted if account_id in held}
    for part in in_slices(wanted - locked.keys()):
        for account in session.scalars(
            select(Account)
            .where(Account.id.in_(part))
            .order_by(Account.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ):
            locked[account.id] = account
    _locks(session).update(locked)
    return locked


def ensure_open(account: Account) -> None:
    """Refuse a change to a closed account."""
    if account.status != AccountStatus.OPEN:
        raise CreditDenied(
            "account {account} is closed",
            code=Code.ACCOUNT_CLOSED,
            http_status=409,
            account=account.id,
        )


def lock_reservation(
    session: Session, reservation_id: str, account_id: str | None = None
) -> tuple[Account, Reservation]:
    """Lock the account that owns a reservation, then read the reservation fresh.

    With ``account_id``, a reservation of another account is reported as not found.
    """
    owner = session.scalar(select(Reservation.account_id).where(Reservation.id == reservation_id))
    if owner is None or (account_id is not None and owner != account_id):
        raise NotFound(
            "transaction {reservation} not found",
            code=Code.TRANSACTION_NOT_FOUND,
            reservation=reservation_id,
        )
    account = lock_account(session, owner)
    reservation = session.get(Reservation, reservation_id, populate_existing=True)
    assert reservation is not None  # reservations are never deleted
    return account, reservation


def lock_invoice(
    session: Session, invoice_id: str, account_id: str | None = None
) -> tuple[Account, Invoice]:
    """Lock the account of an invoice, then read the invoice fresh.

    With ``account_id``, an invoice of another account is reported as not found.
    """
    owner = session.scalar(select(Invoice.account_id).where(Invoice.id == invoice_id))
    if owner is None or (account_id is not None and owner != account_id):
        raise NotFound(
            "invoice {invoice} not found", code=Code.INVOICE_NOT_FOUND, invoice=invoice_id
        )
    account = lock_account(session, owner)
    invoice = session.get(Invoice, invoice_id, populate_existing=True)
    assert invoice is not None  # invoices are never deleted
    return account, invoice


def post_opening_credits(
    session: Session,
    credits: Sequence[tuple[str, int, dict[str, Any]]],
    *,
    now: datetime,
    done_by: str | None = None,
) -> None:
    """Write the ``Credit`` entries of accounts being opened, in one statement.

    ``credits`` holds (account id, capacity, metadata) per new account. A ``Credit`` entry
    moves no balance, so nothing cached changes; this is ``post_entry`` for many new
    accounts at once.
    """
    if credits:
        session.execute(insert(StatementEntry), opening_credit_rows(credits, now, done_by))


def opening_credit_rows(
    credits: Sequence[tuple[str, int, dict[str, Any]]], now: datetime, done_by: str | None
) -> list[dict[str, Any]]:
    """The rows ``post_opening_credits`` inserts, for a caller that writes them its own way."""
    return [
        {
            "id": entry_id,
            "account_id": account_id,
            "origin": Origin.CREDIT,
            "value_cents": value_cents,
            "created_at": now,
            "done_by": done_by,
            "invoice_id": None,
            "reservation_id": None,
            "details": details,
        }
        for entry_id, (account_id, value_cents, details) in zip(
            new_ids(len(credits)), credits, strict=True
        )
    ]


def post_entry(
    session: Session,
    account: Account,
    origin: str,
    value_cents: int,
    *,
    now: datetime,
    done_by: str | None = None,
    invoice_id: str | None = None,
    reservation_id: str | None = None,
    details: dict[str, Any] | None = None,
    entry_id: str | None = None,
) -> StatementEntry:
    """Append an entry to a locked account's history and move its cached balance."""
    entry = StatementEntry(
        id=entry_id or new_id(),
        account_id=account.id,
        origin=origin,
        value_cents=value_cents,
        created_at=now,
        done_by=done_by,
        invoice_id=invoice_id,
        reservation_id=reservation_id,
        details=details or {},
    )
    session.add(entry)
    if origin != Origin.CREDIT:
        account.balance_cents += value_cents
    account.updated_at = now
    return entry
