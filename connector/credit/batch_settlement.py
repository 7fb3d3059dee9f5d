"""Settling many due purchases at once: the auto-settle job's common case, set-wise.

The job settles thousands of pending reservations in full, as authorized. Through the ORM
(``settle_reservation`` one by one) that costs a unit of work per purchase; here a batch
costs a handful of statements:

1. lock the batch's accounts in id order (``SELECT ... FOR UPDATE``; SQLite's ``BEGIN
   IMMEDIATE`` already holds its one writer lock), so two schedulers never deadlock;
2. read the batch's reservations again under those locks: only the ones still pending
   and still due are settled here, so a gateway's settle or a second scheduler that got
   there first is never repeated;
3. compute every invoice and statement entry in Python with the credit rules themselves
   (``invoicing.new_invoice_rows``: ``rules.agreed_installments``, ``rules.split_installments``,
   ``StoreSettings.due_dates``, ``rules.invoice_id``, ``rules.friendly_id``; purchase
   numbers taken in one block);
4. write them with a few statements: the invoices and the entries through
   ``bulk_write.insert_rows`` (COPY on PostgreSQL, executemany on SQLite), then one
   UPDATE of the reservations (guarded by ``status = 'pending'``) and one of the
   accounts (``reserved_cents`` and ``balance_cents`` moved by exactly what the released
   holds and the entries add up to), each joined to arrays of the batch's values
   (executemany UPDATEs on SQLite). The caller commits the batch at once.

The rows are the ones ``settle_reservation`` writes for the same purchase (a test
settles the same reservations both ways and compares them row by row). Whatever is not
that common case (a reservation voided or expired meanwhile, which the general path
refuses and words, one holding nothing) is handed back for ``settle_reservation``.

Why it exists: the job settled ~200-260 purchases/s through the ORM (20,000 in 76-100 s
on 2 shared cores), paced by the unit of work's CPU; set-wise the same 20,000 take 4-8 s
and 100,000 take 23-40 s. What is left is mostly the database's own work: in a one-thread
run of 6.3 s, the COPY of the invoices took 2.0 s and that of the entries 1.5 s (eleven
index entries per invoice, two foreign-key checks per invoice and per entry), computing
the rows ~1 s. See the README's performance section.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    SmallInteger,
    String,
    Table,
    bindparam,
    column,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from connector.credit.bulk_write import insert_rows
from connector.credit.invoicing import invoice_entry_details, new_invoice_rows
from connector.credit.ledger import in_slices
from connector.credit.models import (
    Account,
    Invoice,
    Origin,
    Reservation,
    ReservationStatus,
    StatementEntry,
)
from connector.credit.purchase_numbers import next_purchase_number, reserve_purchase_numbers
from connector.credit.settings import StoreSettings
from connector.ids import new_id

_ACCOUNT_TABLE = cast(Table, Account.__table__)
_RESERVATION_TABLE = cast(Table, Reservation.__table__)
_ACCOUNTS = _ACCOUNT_TABLE.c
_RESERVATIONS = _RESERVATION_TABLE.c


@dataclass
class BatchSettlement:
    """What a batch did: how many purchases it settled, for how much, and the ids it
    leaves to the general path."""

    settled: int = 0
    settled_cents: int = 0
    left: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Purchase:
    """A reservation as invoicing reads it (``invoicing.Purchase``), with the purchase
    number it is settled under."""

    id: str
    order_id: str | None
    authorized_cents: int
    installment_value_cents: int | None
    term_days: list[int]
    invoice_count: int
    purchase_number: int


def _lock_accounts(session: Session, account_ids: set[str]) -> set[str]:
    locked: set[str] = set()
    for part in in_slices(account_ids):
        locked.update(
            session.scalars(
                select(_ACCOUNTS.id)
                .where(_ACCOUNTS.id.in_(part))
                .order_by(_ACCOUNTS.id)
                .with_for_update()
            )
        )
    return locked


def _read_again(session: Session, ids: list[str], now: datetime) -> dict[str, Any]:
    """The reservations' figures as committed, read under their accounts' locks."""
    found: dict[str, Any] = {}
    for part in in_slices(ids):
        for row in session.execute(
            select(
                _RESERVATIONS.id,
                _RESERVATIONS.account_id,
                _RESERVATIONS.order_id,
                _RESERVATIONS.status,
                _RESERVATIONS.value_cents,
                _RESERVATIONS.authorized_cents,
                _RESERVATIONS.installment_value_cents,
                _RESERVATIONS.term_days,
                _RESERVATIONS.invoice_count,
                _RESERVATIONS.purchase_number,
                (_RESERVATIONS.auto_settle_at <= now).label("due"),
            ).where(_RESERVATIONS.id.in_(part))
        ):
            found[row.id] = row
    return found


def settle_due_batch(
    session: Session,
    reservations: Sequence[tuple[str, str]],
    *,
    settings: StoreSettings,
    now: datetime,
) -> BatchSettlement:
    """Settle in full the ``reservations`` (id, account id) still pending and due, in that
    order (their purchase numbers follow it), in the caller's transaction.

    Returns what was settled and the ids left for ``settle_reservation``; reservations
    settled meanwhile, or no longer due, are passed over.
    """
    outcome = BatchSettlement()
    locked = _lock_accounts(session, {account_id for _, account_id in reservations})
    found = _read_again(session, [reservation_id for reservation_id, _ in reservations], now)
    chosen = []
    for reservation_id, _ in reservations:
        row = found.get(reservation_id)
        if row is None or row.status == ReservationStatus.POSTED or not row.due:
            continue  # settled meanwhile by the gateway or a twin; or not due after all
        if (
            row.status != ReservationStatus.PENDING
            or row.value_cents <= 0
            or row.account_id not in locked
        ):
            outcome.left.append(reservation_id)  # the general path refuses or handles it
            continue
        chosen.append(row)
    reserve_purchase_numbers(session, sum(row.purchase_number is None for row in chosen))
    dates: dict[tuple[int, ...], list[date]] = {}  # the job's `now` is one moment
    invoices: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    settled: list[dict[str, Any]] = []
    accounts: dict[str, list[int]] = {}  # id: [held released, balance moved]
    for row in chosen:
        number = row.purchase_number
        if number is None:
            number = next_purchase_number(session)
        purchase = _Purchase(
            row.id,
            row.order_id,
            row.authorized_cents,
            row.installment_value_cents,
            row.term_days,
            row.invoice_count,
            number,
        )
        plan = tuple(row.term_days)
        if plan not in dates:
            dates[plan] = settings.due_dates(now, plan)
        rows = new_invoice_rows(
            purchase,
            row.account_id,
            row.value_cents,
            settings=settings,
            now=now,
            due_dates=dates[plan],
        )
        invoices.extend(rows)
        for invoice in rows:
            # ``ledger.post_entry``'s entry: an Invoice entry moves the balance.
            entries.append(
                {
                    "id": new_id(),
                    "account_id": row.account_id,
                    "origin": Origin.INVOICE,
                    "value_cents": -invoice["value_cents"],
                    "created_at": now,
                    "done_by": None,
                    "invoice_id": invoice["id"],
                    "reservation_id": row.id,
                    "details": invoice_entry_details(purchase, invoice),
                }
            )
        invoiced = sum(invoice["value_cents"] for invoice in rows)
        settled.append(
            {
                "b_id": row.id,
                "b_settled_cents": row.value_cents,
                "b_invoice_count": row.invoice_count + len(rows),
                "b_purchase_number": number,
            }
        )
        figures = accounts.setdefault(row.account_id, [0, 0])
        figures[0] += row.value_cents
        figures[1] -= invoiced
        outcome.settled += 1
        outcome.settled_cents += invoiced
    if not settled:
        return outcome
    insert_rows(session, Invoice, invoices)
    insert_rows(session, StatementEntry, entries)
    connection = session.connection()
    changed = _update(
        connection,
        _RESERVATION_TABLE,
        settled,
        [_RESERVATIONS.status == ReservationStatus.PENDING],
        lambda v: {
            "status": ReservationStatus.POSTED,
            "value_cents": 0,
            "settled_cents": v.b_settled_cents,
            "invoice_count": v.b_invoice_count,
            "purchase_number": v.b_purchase_number,
            "settled_at": now,
            "updated_at": now,
        },
    )
    if changed != len(settled):
        # Unreachable while every change to a reservation holds its account's lock.
        raise RuntimeError("a reservation changed under its account's lock")
    _update(
        connection,
        _ACCOUNT_TABLE,
        [
            {"b_id": account_id, "b_held": held, "b_moved": moved}
            for account_id, (held, moved) in sorted(accounts.items())
        ],
        [],
        lambda v: {
            "reserved_cents": _ACCOUNTS.reserved_cents - v.b_held,
            "balance_cents": _ACCOUNTS.balance_cents + v.b_moved,
            "updated_at": now,
        },
    )
    return outcome


def _update(
    connection: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    conditions: list[ColumnElement[bool]],
    changes: Callable[[Any], dict[str, Any]],
) -> int:
    """UPDATE each row ``b_id`` with its ``b_*`` values: one statement joined to their
    arrays (``unnest``) on PostgreSQL, an executemany on SQLite (in process: no round
    trips to save). Returns the rows changed."""
    names = list(rows[0])
    if connection.dialect.name == "postgresql":
        # One array a column: the statement is the same whatever the batch's size, so it
        # is compiled (and prepared by the server) once.
        given = (
            func.unnest(*(bindparam(name, type_=ARRAY(_B_TYPES[name])) for name in names))
            .table_valued(*(column(name, _B_TYPES[name]) for name in names))
            .render_derived(name="given")
        )
        statement = (
            update(table).where(table.c.id == given.c.b_id, *conditions).values(changes(given.c))
        )
        arrays = {name: [row[name] for row in rows] for name in names}
        return int(connection.execute(statement, arrays).rowcount)
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"), *conditions)
        .values(changes(_Bound(names)))
    )
    return int(connection.execute(statement, rows).rowcount)


class _Bound:
    """``b_*`` names as bound parameters, for the executemany form of ``_update``."""

    def __init__(self, names: list[str]) -> None:
        for name in names:
            setattr(self, name, bindparam(name, type_=_B_TYPES[name]))


_B_TYPES: dict[str, Any] = {
    "b_id": String(),
    "b_settled_cents": BigInteger(),
    "b_invoice_count": SmallInteger(),
    "b_purchase_number": BigInteger(),
    "b_held": BigInteger(),
    "b_moved": BigInteger(),
}
