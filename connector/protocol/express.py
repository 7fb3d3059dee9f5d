"""Express authorization: the common purchase in two round trips to PostgreSQL.

Almost every create is a live purchase by a buyer whose e-mail names an open account
with enough credit. On PostgreSQL this module approves those without the ORM: one
pipeline sends BEGIN and ``SELECT ... FOR UPDATE`` of the account; Python decides with
the same rule as ``reserve`` (``rules.can_reserve``); a second pipeline sends one
statement (the account UPDATE and the reservation INSERT as CTEs of the payment INSERT)
and COMMIT. The rows written are the ones
the general path writes, built by the same functions (``new_reservation``,
``new_payment``, ``approval``), and the statements are compiled once from the tables the
models declare, so the SQL cannot drift from the schema.

Why it exists: the profile of ``connector serve`` under load showed an authorization
costing ~3 ms of CPU in the ORM's unit of work, session and engine layers against ~0.5 ms
in PostgreSQL, and six round trips (ping, BEGIN, four statements, COMMIT), each a
context switch on a small machine. See the README's performance section.

Anything else declines before writing and the caller takes the general path
(``authorize_payment``), which handles every case: test-suite cards, a buyer found only
by document or not at all, a closed account, a denial or an over-limit review, a store
setting not read in the last second, a repeat (its ``paymentId`` collides), and any
database error. A failure while committing is ambiguous; the general path then looks the
payment up first, so a committed one is replayed and never reserved twice.

Each thread keeps its own connection (prepared statements live per connection), outside
the engine's pool; it is dropped and opened again when it breaks.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Engine, Insert, bindparam, insert, update
from sqlalchemy.sql import ClauseElement

from connector import jsonio
from connector.credit import rules
from connector.credit.accounts import buyer_account_query
from connector.credit.models import Account, Reservation
from connector.credit.reservations import new_reservation
from connector.credit.settings import StoreSettings, cached_store_settings, settings_key
from connector.protocol.answers import payment_response
from connector.protocol.models import Payment
from connector.protocol.payments import PAYMENT_METHOD, PaymentRequest, approval, new_payment

log = logging.getLogger(__name__)


class _Statement:
    """A statement compiled once for the driver, with the constants it binds."""

    def __init__(self, statement: ClauseElement, engine: Engine, **compile_kwargs: Any) -> None:
        compiled = statement.compile(dialect=engine.dialect, **compile_kwargs)
        self.sql = str(compiled)
        self.constants = {
            name: value for name, value in compiled.params.items() if value is not None
        }

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        return {**self.constants, **values} if self.constants else values


_RESERVATION = "reservation_"


def _insert(table: Any, prefix: str = "") -> Insert:
    """An INSERT of every column of a table, each bound by name (with a prefix)."""
    return insert(table).values(
        {c.key: bindparam(f"{prefix}{c.key}", type_=c.type) for c in table.columns}
    )


class ExpressAuthorizer:
    """Approves the common purchase on PostgreSQL, or declines so the general path runs."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("express authorization needs PostgreSQL")
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        self._connect_args = (list(args), {**kwargs, "autocommit": False, "prepare_threshold": 0})
        self._settings_key = settings_key(engine)
        self._local = threading.local()
        self._opened: list[psycopg.Connection[Any]] = []
        self._opened_lock = threading.Lock()
        lock = buyer_account_query(bindparam("email")).with_for_update(of=Account)
        self._lock = _Statement(lock, engine)
        self._columns = {c.key: i for i, c in enumerate(lock.selected_columns)}
        # The account's new hold, the reservation and the payment: one statement, whose
        # data-modifying CTEs run exactly once each (foreign keys are checked at its end).
        reserve = (
            update(Account)
            .where(Account.id == bindparam("account"))
            .values(reserved_cents=bindparam("reserved"), updated_at=bindparam("now"))
            .cte("reserve")
        )
        reservation = _insert(Reservation.__table__, prefix=_RESERVATION).cte("reservation")
        self._write = _Statement(_insert(Payment.__table__).add_cte(reserve, reservation), engine)

    def _connection(self) -> psycopg.Connection[Any]:
        connection: psycopg.Connection[Any] | None = getattr(self._local, "connection", None)
        if connection is None or connection.closed:
            args, kwargs = self._connect_args
            connection = self._local.connection = psycopg.connect(*args, **kwargs)
            with self._opened_lock:
                self._opened = [c for c in self._opened if not c.closed] + [connection]
        return connection

    def close(self) -> None:
        """Close every thread's connection (they open again on the next purchase)."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()

    def authorize(self, request: PaymentRequest, now: datetime) -> dict[str, Any] | None:
        """The approved answer, committed; or None, with nothing written."""
        if (
            request.test_suite
            or not request.buyer_email
            or request.payment_method not in (None, PAYMENT_METHOD)
            or request.value_cents <= 0
        ):
            return None
        settings = cached_store_settings(self._settings_key)
        if settings is None or request.currency != settings.currency:
            return None
        plan = settings.plan_for(request.installments)
        if plan is None:
            return None
        try:
            connection = self._connection()
        except psycopg.Error as error:
            log.warning("express authorization cannot connect: %s", error)
            return None
        try:
            return self._approve(connection, request, settings, plan, now)
        except psycopg.Error as error:
            if isinstance(error, psycopg.errors.UniqueViolation):
                log.debug("payment %s is a repeat; replaying it", request.payment_id)
            else:
                log.warning("express authorization failed, taking the general path: %s", error)
            self._reset(connection)
            return None

    def _approve(
        self,
        connection: psycopg.Connection[Any],
        request: PaymentRequest,
        settings: StoreSettings,
        plan: tuple[int, ...],
        now: datetime,
    ) -> dict[str, Any] | None:
        email = (request.buyer_email or "").strip().lower()
        with connection.pipeline(), connection.cursor() as cursor:
            cursor.execute(self._lock.sql, self._lock.params({"email": email}))
            row = cursor.fetchone()
            column = self._columns
            if row is None or not rules.can_reserve(
                request.value_cents,
                limit_cents=row[column["credit_limit_cents"]],
                balance_cents=row[column["balance_cents"]],
                reserved_cents=row[column["reserved_cents"]],
                tolerance_bps=row[column["tolerance_bps"]],
                tolerance_enabled=settings.tolerance_enabled,
            ):
                connection.rollback()
                return None
            account_id = row[column["id"]]
            reservation = new_reservation(
                account_id,
                request.value_cents,
                plan,
                holder_email=request.buyer_email,
                order_id=request.order_id or request.reference,
                settings=settings,
                now=now,
            )
            payment = new_payment(request, now)
            payment.update(approval(reservation["id"], reservation["auto_settle_at"], now))
            payment["account_id"] = account_id
            reservation["term_days"] = jsonio.dumps(reservation["term_days"])
            cursor.execute(
                self._write.sql,
                {
                    **payment,
                    **{_RESERVATION + name: value for name, value in reservation.items()},
                    "account": account_id,
                    "reserved": row[column["reserved_cents"]] + request.value_cents,
                    "now": now,
                },
            )
            connection.commit()
        return payment_response(payment)

    def _reset(self, connection: psycopg.Connection[Any]) -> None:
        """Leave the connection idle for the next request, or drop it when broken."""
        try:
            if not connection.closed:
                connection.rollback()
        except psycopg.Error:
            connection.close()
