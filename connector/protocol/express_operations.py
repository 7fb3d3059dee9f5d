"""Express settlements and refunds: the lifecycle's common operations in two round trips.

After an approval, the gateway settles the purchase and, now and then, refunds part of
it. Through the ORM each of those cost about as much CPU as the authorization did before
it had its express path (``connector.protocol.express``). On PostgreSQL this module does
the common case with two statements, each its own transaction:

1. a read: the payment, its reservation (and a refund's open invoices), the store
   settings' revision, whether the ``requestId`` was used, and for a pending purchase
   without a number, a new purchase number from the sequence;
2. one guarded write, in the general path's lock order (payment, account, reservation):

       WITH pay AS (UPDATE payments ... WHERE <still approved, not cancelled> RETURNING),
            acc AS (UPDATE accounts ... WHERE id = :account AND EXISTS (pay) RETURNING),
            res AS (UPDATE reservations ... WHERE <still as read> AND EXISTS (acc) RETURNING),
            ... INSERT invoices / UPDATE invoices, INSERT statement entries,
            op  AS (INSERT INTO payment_operations ... WHERE EXISTS (res) RETURNING id)
       SELECT (SELECT id FROM op), 1 / <1 unless something changed since the read>

The rows are built in Python between the two by the general path's own functions
(``new_invoice_rows``, ``invoice_entry_details``, ``rules.reduce_last_first``,
``refund_entry_details``, ``money_answer``), and written with ``json_populate_recordset``
of the table's own row type, so every column is the table's. The account's row lock is
taken before the reservation is checked again (its UPDATE re-reads the newest row
version): every change to a reservation or an invoice holds that lock, so once it is held
they are as read, or the guard sees that they changed. When the payment changed (a
cancellation, a settings change, a revoked key) nothing is written; when the reservation
or an invoice changed after the account was locked, the final division by zero rolls the
whole statement back. Either way the caller takes the general path, which decides
everything under its locks and words every refusal.

The common case: a live payment, approved and (to settle) not cancelled, whose pending
reservation is settled for at most what it holds, or whose settled purchase is refunded
by an amount its open invoices absorb. Everything else (a repeated ``requestId``, a
settlement above the hold or of a posted purchase, a refund reaching paid invoices, test-
suite payments, refusals) goes to the general path, ``connector.payments.operations``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import psycopg
from sqlalchemy import (
    ColumnElement,
    Engine,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    inspect,
    literal_column,
    select,
    update,
)
from sqlalchemy import (
    column as sql_column,
)
from sqlalchemy.dialects.postgresql import JSON

from connector import jsonio, metrics
from connector.credit import rules
from connector.credit.invoicing import (
    invoice_entry_details,
    new_invoice_rows,
    refund_entry_details,
)
from connector.credit.models import (
    PURCHASE_NUMBERS,
    Account,
    Invoice,
    InvoiceStatus,
    Origin,
    Reservation,
    ReservationStatus,
    StatementEntry,
)
from connector.credit.settings import StoreSettings, cached_store_settings
from connector.ids import new_id
from connector.payments.answers import Answer, money_answer
from connector.payments.models import OperationKind, Payment, PaymentOperation, PaymentStatus
from connector.protocol.express import (
    ExpressAuthorizer,
    IssuedKey,
    for_the_driver,
    key_is_valid,
    settings_revision,
)

log = logging.getLogger(__name__)

DONE_BY = "gateway"  # as the general path records the gateway's operations


@dataclass(frozen=True)
class _Read:
    """The payment and its purchase as the first statement saw them."""

    status: str
    cancelled: bool
    test_suite: bool
    repeated: bool
    revision: int
    reservation: Reservation  # transient: built from the row, never added to a session
    reservation_status: str
    open_invoices: list[tuple[str, int, int]]  # (id, value, installment), refunds only


@cache
def _stored(model: Any) -> tuple[tuple[str, str], ...]:
    """(attribute, column) of each of the table's columns: ``reservation_id`` is stored
    as ``transaction_id`` in statement entries, ...; an invoice's ``bought_by`` is not
    stored at all."""
    table = model.__table__
    mapper = inspect(model)
    return tuple((mapper.get_property_by_column(c).key, c.name) for c in table.columns)


def _as_row(model: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Attribute-named values as the table's row, for ``json_populate_recordset``."""
    return {column: values[key] for key, column in _stored(model)}


def _as_rows(model: Any, *rows: dict[str, Any]) -> list[dict[str, Any]]:
    return [_as_row(model, values) for values in rows]


def _rows_from_json(model: Any, parameter: str, guard: Any) -> Any:
    """INSERT ... SELECT * FROM json_populate_recordset(NULL::table, :parameter), written
    only when ``guard`` (a CTE) returned a row."""
    table = model.__table__
    source = func.json_populate_recordset(
        literal_column(f"NULL::{table.name}"), cast(bindparam(parameter), JSON)
    ).alias("given")
    return insert(table).from_select(
        list(table.columns),
        select(*(literal_column(f"given.{column.name}") for column in table.columns))
        .select_from(source)
        .where(exists(select(guard.c.id))),
    )


def _read_statement(engine: Engine, kind: str) -> tuple[str, tuple[str, ...]]:
    """The payment, its purchase, the settings' revision and whether the requestId was
    used; a settlement's purchase number, a refund's open invoices."""
    p, r = Payment.__table__.c, Reservation.__table__.c
    repeated = exists().where(
        PaymentOperation.payment_id == p.payment_id,
        PaymentOperation.request_id == bindparam("request_id"),
    )
    extra: ColumnElement[Any]
    if kind == OperationKind.SETTLE:
        # Taken only for a purchase about to be invoiced; one the write does not use is a
        # gap in the numbers, as a rolled-back transaction leaves (``purchase_numbers``).
        extra = case(
            (
                and_(r.status == ReservationStatus.PENDING, r.purchase_number.is_(None)),
                PURCHASE_NUMBERS.next_value(),
            ),
            else_=r.purchase_number,
        )
    else:
        extra = (
            select(
                func.json_agg(
                    func.json_build_array(Invoice.id, Invoice.value_cents, Invoice.installment)
                )
            )
            .where(Invoice.reservation_id == r.id, Invoice.status == InvoiceStatus.OPENED)
            .scalar_subquery()
        )
    statement = (
        select(
            p.status,
            p.cancelled_at.is_not(None),
            p.test_suite,
            repeated,
            settings_revision(),
            r.id,
            r.account_id,
            r.status,
            r.value_cents,
            r.authorized_cents,
            r.settled_cents,
            r.refunded_cents,
            r.installment_value_cents,
            r.term_days,
            r.invoice_count,
            r.order_id,
            extra,
        )
        .select_from(Payment.__table__.join(Reservation.__table__, r.id == p.reservation_id))
        .where(p.payment_id == bindparam("payment_id"))
    )
    return for_the_driver(statement, engine)


def _payment_touched(kind: str, issued_key: bool) -> Any:
    """The pay CTE: the payment row locked and touched while it still allows the
    operation (as ``require_approved`` and, to settle, ``require_not_cancelled`` ask)."""
    conditions = [
        Payment.payment_id == bindparam("payment_id"),
        Payment.reservation_id == bindparam("reservation_id"),
        Payment.status == PaymentStatus.APPROVED,
        Payment.test_suite.is_(False),
    ]
    if kind == OperationKind.SETTLE:
        conditions += [
            Payment.cancelled_at.is_(None),
            settings_revision() == bindparam("revision"),  # the due dates are the store's
        ]
    if issued_key:
        conditions.append(key_is_valid())
    return (
        update(Payment)
        .where(*conditions)
        .values(updated_at=bindparam("now"))
        .returning(Payment.payment_id.label("id"))
        .cte("pay")
    )


def _account_moved(pay: Any, **values: Any) -> Any:
    """The acc CTE: the account's figures moved, its row locked, once the payment passed."""
    return (
        update(Account)
        .where(Account.id == bindparam("account_id"), exists(select(pay.c.id)))
        .values(**values, updated_at=bindparam("now"))
        .returning(Account.id)
        .cte("acc")
    )


def _finish(pay: Any, acc: Any, res: Any, checks: list[ColumnElement[bool]], *ctes: Any) -> Any:
    """Record the operation and answer its id; divide by zero (rolling the statement
    back) when the payment passed but a later guard found its purchase changed."""
    operation = _rows_from_json(PaymentOperation, "operation", res)
    op = operation.returning(PaymentOperation.id).cte("op")
    unchanged = and_(exists(select(res.c.id)), *checks)
    divisor = case((~exists(select(pay.c.id)), 1), (unchanged, 1), else_=0)
    return select(select(op.c.id).scalar_subquery(), literal_column("1") / divisor).add_cte(
        pay, acc, res, *ctes, op
    )


def _settle_statement(engine: Engine, issued_key: bool) -> tuple[str, tuple[str, ...]]:
    pay = _payment_touched(OperationKind.SETTLE, issued_key)
    acc = _account_moved(
        pay,
        reserved_cents=Account.reserved_cents - bindparam("held"),
        balance_cents=Account.balance_cents - bindparam("amount"),
    )
    res = (
        update(Reservation)
        .where(
            Reservation.id == bindparam("reservation_id"),
            Reservation.status == ReservationStatus.PENDING,
            Reservation.value_cents == bindparam("held"),
            Reservation.invoice_count == bindparam("invoice_count"),
            exists(select(acc.c.id)),
        )
        .values(
            value_cents=0,
            status=ReservationStatus.POSTED,
            settled_at=bindparam("now"),
            updated_at=bindparam("now"),
            settled_cents=bindparam("amount"),
            purchase_number=bindparam("purchase_number"),
            invoice_count=Reservation.invoice_count + bindparam("issued"),
        )
        .returning(Reservation.id)
        .cte("res")
    )
    invoices = _rows_from_json(Invoice, "invoices", res).cte("inv")
    entries = _rows_from_json(StatementEntry, "entries", res).cte("ent")
    return for_the_driver(_finish(pay, acc, res, [], invoices, entries), engine)


def _refund_statement(engine: Engine, issued_key: bool) -> tuple[str, tuple[str, ...]]:
    pay = _payment_touched(OperationKind.REFUND, issued_key)
    acc = _account_moved(pay, balance_cents=Account.balance_cents + bindparam("amount"))
    res = (
        update(Reservation)
        .where(
            Reservation.id == bindparam("reservation_id"),
            Reservation.status == ReservationStatus.POSTED,
            Reservation.settled_cents == bindparam("settled"),
            Reservation.refunded_cents == bindparam("refunded"),
            exists(select(acc.c.id)),
        )
        .values(
            refunded_cents=Reservation.refunded_cents + bindparam("amount"),
            updated_at=bindparam("now"),
        )
        .returning(Reservation.id)
        .cte("res")
    )
    column = Invoice.__table__.c
    cuts = func.json_to_recordset(cast(bindparam("cuts"), JSON)).table_valued(
        sql_column("id", column.id.type),
        sql_column("was", column.value_cents.type),
        sql_column("cents", column.value_cents.type),
        sql_column("status", column.status.type),
        sql_column("resolved_at", column.resolved_at.type),
    )
    cut = cuts.render_derived(name="cut", with_types=True)
    reduced = (
        update(Invoice)
        .where(
            Invoice.id == cut.c.id,
            Invoice.value_cents == cut.c.was,
            Invoice.status == InvoiceStatus.OPENED,
            exists(select(res.c.id)),
        )
        .values(
            value_cents=Invoice.value_cents - cut.c.cents,
            status=cut.c.status,
            resolved_at=cut.c.resolved_at,
            updated_at=bindparam("now"),
        )
        .returning(Invoice.id)
        .cte("inv")
    )
    entries = _rows_from_json(StatementEntry, "entries", res).cte("ent")
    all_cut = select(func.count()).select_from(reduced).scalar_subquery() == bindparam("cut_count")
    return for_the_driver(_finish(pay, acc, res, [all_cut], reduced, entries), engine)


class ExpressOperations:
    """Settles and refunds the common case on PostgreSQL, or declines (None, nothing
    written) so the general path runs. Shares the authorizer's connections and settings."""

    def __init__(self, authorizer: ExpressAuthorizer, engine: Engine) -> None:
        self._authorizer = authorizer
        self._read_sql = {kind: _read_statement(engine, kind) for kind in OperationKind}
        self._write_sql: dict[tuple[str, bool], tuple[str, tuple[str, ...]]] = {}
        for issued in (False, True):
            self._write_sql[OperationKind.SETTLE, issued] = _settle_statement(engine, issued)
            self._write_sql[OperationKind.REFUND, issued] = _refund_statement(engine, issued)

    def settle(
        self,
        payment_id: str,
        request_id: str,
        value_cents: int | None,
        now: datetime,
        key: IssuedKey | None = None,
    ) -> Answer | None:
        """Settle a pending purchase for at most what it holds (all of it when None)."""
        return self._run(OperationKind.SETTLE, payment_id, request_id, value_cents, now, key)

    def refund(
        self,
        payment_id: str,
        request_id: str,
        value_cents: int | None,
        now: datetime,
        key: IssuedKey | None = None,
    ) -> Answer | None:
        """Refund part (or, with no value, the rest) of a settled purchase that its open
        invoices absorb."""
        return self._run(OperationKind.REFUND, payment_id, request_id, value_cents, now, key)

    def _run(
        self,
        kind: OperationKind,
        payment_id: str,
        request_id: str,
        value_cents: int | None,
        now: datetime,
        key: IssuedKey | None,
    ) -> Answer | None:
        try:
            connection = self._authorizer.connection()
            read = self._read(connection, kind, payment_id, request_id)
            if read is None or read.repeated or read.test_suite:
                return None
            if read.status != PaymentStatus.APPROVED:
                return None  # the general path words the refusal
            plan: Callable[..., tuple[dict[str, Any], int] | None]
            plan = self._plan_settle if kind == OperationKind.SETTLE else self._plan_refund
            planned = plan(connection, read, value_cents, now)
            if planned is None:
                return None
            params, done = planned
            operation_id = new_id()
            answer = money_answer(kind, payment_id, operation_id, request_id, done)
            params.update(
                payment_id=payment_id,
                reservation_id=read.reservation.id,
                account_id=read.reservation.account_id,
                now=now,
                operation=jsonio.dumps(
                    _as_rows(
                        PaymentOperation,
                        {
                            "id": operation_id,
                            "payment_id": payment_id,
                            "request_id": request_id,
                            "kind": kind.value,
                            "value_cents": done,
                            "http_status": answer.http_status,
                            "response": answer.body,
                            "created_at": now,
                        },
                    )
                ),
            )
            if key is not None:
                params.update(app_key=key.app_key, token_sha256=key.token_sha256)
            sql, names = self._write_sql[kind, key is not None]
            with connection.cursor() as cursor:
                row = cursor.execute(sql, {name: params[name] for name in names}).fetchone()
            if row is None or row[0] is None:
                return None  # the payment changed since the read
            if kind == OperationKind.SETTLE:
                metrics.count_express_settlement(done)
            return answer
        except psycopg.errors.DivisionByZero:
            log.debug("%s of %s raced another change; the general path decides", kind, payment_id)
            return None
        except psycopg.Error as error:
            log.warning("express %s failed, taking the general path: %s", kind, error)
            return None

    def _read(
        self, connection: psycopg.Connection[Any], kind: str, payment_id: str, request_id: str
    ) -> _Read | None:
        sql, names = self._read_sql[OperationKind(kind)]
        params = {"payment_id": payment_id, "request_id": request_id}
        with connection.cursor() as cursor:
            row = cursor.execute(sql, {name: params[name] for name in names}).fetchone()
        if row is None:
            return None  # no such payment, or no reservation (denied): the general path
        (status, cancelled, test_suite, repeated, revision, rid, account_id, r_status) = row[:8]
        held, authorized, settled, refunded, each, term_days, count, order_id, extra = row[8:]
        reservation = Reservation(
            id=rid,
            account_id=account_id,
            order_id=order_id,
            value_cents=held,
            authorized_cents=authorized,
            settled_cents=settled,
            refunded_cents=refunded,
            installment_value_cents=each,
            term_days=term_days,
            invoice_count=count,
            purchase_number=extra if kind == OperationKind.SETTLE else None,
        )
        open_invoices = [] if kind == OperationKind.SETTLE else [tuple(i) for i in extra or []]
        return _Read(
            status,
            cancelled,
            test_suite,
            repeated,
            revision,
            reservation,
            r_status,
            open_invoices,
        )

    def _settings(self, connection: psycopg.Connection[Any], revision: int) -> StoreSettings:
        """The store settings of ``revision``: the worker's, or read again when it moved."""
        cached = cached_store_settings(self._authorizer.settings_key)
        if cached is not None and cached[0] == revision:
            return cached[1]
        return self._authorizer.read_settings(connection)[1]

    def _plan_settle(
        self,
        connection: psycopg.Connection[Any],
        read: _Read,
        value_cents: int | None,
        now: datetime,
    ) -> tuple[dict[str, Any], int] | None:
        """A pending purchase settled for at most what it holds: its invoices and entries."""
        reservation = read.reservation
        held = reservation.value_cents
        if read.cancelled or read.reservation_status != ReservationStatus.PENDING:
            return None
        amount = held if value_cents is None else value_cents
        if not 0 < amount <= held or reservation.purchase_number is None:
            return None  # growth is decided under the lock; a zero is refused there
        settings = self._settings(connection, read.revision)
        invoices = new_invoice_rows(
            reservation, reservation.account_id, amount, settings=settings, now=now
        )
        entries = [
            _entry(
                reservation,
                Origin.INVOICE,
                -invoice["value_cents"],
                invoice["id"],
                invoice_entry_details(reservation, invoice),
                now,
            )
            for invoice in invoices
        ]
        params = {
            "revision": read.revision,
            "held": held,
            "amount": amount,
            "invoice_count": reservation.invoice_count,
            "issued": len(invoices),
            "purchase_number": reservation.purchase_number,
            "invoices": jsonio.dumps([_as_row(Invoice, row) for row in invoices]),
            "entries": jsonio.dumps(entries),
        }
        return params, amount

    def _plan_refund(
        self,
        _connection: psycopg.Connection[Any],
        read: _Read,
        value_cents: int | None,
        now: datetime,
    ) -> tuple[dict[str, Any], int] | None:
        """A refund its open invoices absorb: their reductions and entries, last first."""
        reservation = read.reservation
        if read.reservation_status != ReservationStatus.POSTED:
            return None
        left = reservation.settled_cents - reservation.refunded_cents
        amount = left if value_cents is None else value_cents
        if not 0 < amount <= left:
            return None  # refused by the general path, in its words
        by_number = sorted(read.open_invoices, key=lambda invoice: rules.invoice_number(invoice[0]))
        installments = {invoice_id: installment for invoice_id, _, installment in by_number}
        values = {invoice_id: value for invoice_id, value, _ in by_number}
        reductions, excess = rules.reduce_last_first(
            [(invoice_id, value) for invoice_id, value, _ in by_number], amount
        )
        if excess:
            return None  # paid invoices given back: the general path weighs what was paid
        cuts = [
            {
                "id": cut.invoice_key,
                "was": values[cut.invoice_key],
                "cents": cut.cents,
                "status": InvoiceStatus.CANCELLED if cut.closes else InvoiceStatus.OPENED,
                "resolved_at": now if cut.closes else None,
            }
            for cut in reductions
        ]
        entries = [
            _entry(
                reservation,
                Origin.REFUND,
                cut.cents,
                cut.invoice_key,
                refund_entry_details(reservation, installments[cut.invoice_key], "refund"),
                now,
            )
            for cut in reductions
        ]
        params = {
            "settled": reservation.settled_cents,
            "refunded": reservation.refunded_cents,
            "amount": amount,
            "cuts": jsonio.dumps(cuts),
            "cut_count": len(cuts),
            "entries": jsonio.dumps(entries),
        }
        return params, amount


def _entry(
    reservation: Reservation,
    origin: str,
    value_cents: int,
    invoice_id: str,
    details: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """A statement entry's row, as ``post_entry`` writes it for the gateway."""
    return _as_row(
        StatementEntry,
        {
            "id": new_id(),
            "account_id": reservation.account_id,
            "origin": origin,
            "value_cents": value_cents,
            "created_at": now,
            "done_by": DONE_BY,
            "invoice_id": invoice_id,
            "reservation_id": reservation.id,
            "details": details,
        },
    )
