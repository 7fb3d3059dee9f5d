"""Express authorization: the common purchase in one statement, one round trip.

Almost every create is a live purchase by a buyer whose e-mail names an open account
with enough credit. On PostgreSQL this module approves those without the ORM, in one
statement run as its own transaction:

    WITH reserve AS (UPDATE accounts SET reserved_cents = reserved_cents + :value ...
                     FROM holders WHERE <the buyer's open account> AND :value <= <power>
                     RETURNING accounts.id),
         reservation AS (INSERT INTO reservations SELECT ... FROM reserve)
    INSERT INTO payments SELECT ... FROM reserve RETURNING payment_id

The UPDATE takes the account's row lock, and PostgreSQL re-evaluates its condition on the
newest row version when it had to wait for that lock, so two purchases racing for the
last credit cannot both pass: the credit check and the hold are one atomic step. Data-
modifying CTEs run exactly once; foreign keys are checked at the end of the statement.
The rows written are the ones the general path writes, built by the same functions
(``new_reservation``, ``new_payment``, ``approval``), and the statement is compiled once
from the tables the models declare, so the SQL cannot drift from the schema. The credit
check is ``rules.spending_power`` itself, given the account's columns; a test holds the
two evaluations to the same answers at the boundaries.

Why it exists: under load, an authorization through the ORM cost ~3 ms of CPU in the
unit of work, session and engine layers against ~0.5 ms in PostgreSQL, and seven round
trips (ping, BEGIN, four statements, COMMIT), each a context switch on a small machine.
See the README's performance section.

When the statement writes nothing (no open account for that e-mail, or not enough
credit), or the request is anything but the common case (test-suite cards, a buyer
without e-mail, what ``check_payment`` or ``plan_for`` refuse), or the database
refuses (a repeated ``paymentId`` collides) or fails, nothing is written and the caller
takes the general path (``authorize_payment``), which handles every case and words every
denial. A failure while the statement commits is ambiguous; the general path then looks
the payment up first, so a committed one is replayed and never reserved twice. The store
settings are the ones every worker caches for a second (``load_store_settings``); when
they are older, this path reads them again on its own connection.

Each thread keeps its own autocommit connection (prepared statements live per
connection), outside the engine's pool; it is dropped and opened again when it breaks.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import set_json_loads
from sqlalchemy import (
    ColumnElement,
    Engine,
    Insert,
    bindparam,
    insert,
    inspect,
    literal,
    select,
    update,
)
from werkzeug.datastructures import EnvironHeaders

from connector import jsonio
from connector.access.principals import PAYMENTS, Authenticator, credentials_from
from connector.clock import Clock, utcnow
from connector.credit import rules
from connector.credit.holders import buyer_account_conditions
from connector.credit.identity import canonical_email
from connector.credit.models import Account, Reservation, StoreSettingsRow
from connector.credit.reservations import new_reservation, plan_for
from connector.credit.settings import (
    StoreSettings,
    cached_store_settings,
    remember_store_settings,
    settings_key,
)
from connector.errors import ConnectorError, CreditDenied
from connector.payments.answers import payment_response
from connector.payments.authorization import PaymentRequest, check_payment, new_payment
from connector.payments.models import Payment
from connector.payments.states import approval
from connector.protocol import schemas
from connector.protocol.schemas import TESTSUITE_HEADER, is_test_suite

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

_RESERVATION = "reservation_"  # no column of payments starts so: the names cannot collide


def spending_power_sql(tolerance_enabled: bool) -> ColumnElement[int]:
    """``rules.spending_power`` given an account's columns: the rule as SQL."""
    column: Any = Account.__table__.c
    power: ColumnElement[int] = rules.spending_power(
        column.credit_limit_cents,
        column.balance_cents,
        column.reserved_cents,
        column.tolerance_bps,
        tolerance_enabled,
    )
    return power


def _rows_of(model: Any, prefix: str, account_id: Any) -> Insert:
    """INSERT ... SELECT of every column, bound by its attribute's name (the keys of the
    dict that built the row), the account's id from the reservation's UPDATE."""
    columns = inspect(model).columns.items()
    values = [
        account_id if key == "account_id" else bindparam(prefix + key, type_=column.type)
        for key, column in columns
    ]
    return insert(model.__table__).from_select([c for _, c in columns], select(*values))


def _statement(engine: Engine, tolerance_enabled: bool) -> tuple[str, dict[str, Any]]:
    """The SQL for the driver, and the constants it binds (the open status, ...)."""
    value = bindparam("value", type_=Account.reserved_cents.type)
    reserve = (
        update(Account)
        .where(*buyer_account_conditions(bindparam("email")))
        .where(literal(0) < value, value <= spending_power_sql(tolerance_enabled))
        .values(reserved_cents=Account.reserved_cents + value, updated_at=bindparam("now"))
        .returning(Account.id)
        .cte("reserve")
    )
    # Each INSERT selects FROM reserve: no hold, no row.
    reservation = _rows_of(Reservation, _RESERVATION, reserve.c.id).cte("reservation")
    payment = (
        _rows_of(Payment, "", reserve.c.id)
        .add_cte(reserve, reservation)
        .returning(Payment.payment_id)
    )
    compiled = payment.compile(dialect=engine.dialect)
    constants = {name: value for name, value in compiled.params.items() if value is not None}
    return str(compiled), constants


class ExpressAuthorizer:
    """Approves the common purchase on PostgreSQL, or declines so the general path runs."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("express authorization needs PostgreSQL")
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        self._connect_args = (list(args), {**kwargs, "autocommit": True, "prepare_threshold": 0})
        self._settings_key = settings_key(engine)
        self._local = threading.local()
        self._opened: list[psycopg.Connection[Any]] = []
        self._opened_lock = threading.Lock()
        self._sql = {enabled: _statement(engine, enabled) for enabled in (False, True)}
        by_id = select(StoreSettingsRow.document).where(StoreSettingsRow.id == bindparam("id"))
        self._settings_sql = str(by_id.compile(dialect=engine.dialect))

    def _connection(self) -> psycopg.Connection[Any]:
        connection: psycopg.Connection[Any] | None = getattr(self._local, "connection", None)
        if connection is None or connection.closed:
            args, kwargs = self._connect_args
            connection = self._local.connection = psycopg.connect(*args, **kwargs)
            set_json_loads(jsonio.loads, connection)  # decimals stay exact, as in the ORM
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
        if request.test_suite or not request.buyer_email or request.value_cents <= 0:
            return None
        try:
            connection = self._connection()
            settings = cached_store_settings(self._settings_key) or self._read_settings(connection)
            check_payment(request, settings)
            plan = plan_for(settings, request.installments)
            return self._approve(connection, request, settings, plan, now)
        except CreditDenied:
            return None  # the general path words the denial
        except psycopg.Error as error:
            if isinstance(error, psycopg.errors.UniqueViolation):
                log.debug("payment %s is a repeat; replaying it", request.payment_id)
            else:
                log.warning("express authorization failed, taking the general path: %s", error)
            return None

    def _read_settings(self, connection: psycopg.Connection[Any]) -> StoreSettings:
        """Read the store's settings again: what ``load_store_settings`` reads, cached alike."""
        with connection.cursor() as cursor:
            row = cursor.execute(self._settings_sql, {"id": 1}).fetchone()
        return remember_store_settings(self._settings_key, row[0] if row is not None else None)

    def _approve(
        self,
        connection: psycopg.Connection[Any],
        request: PaymentRequest,
        settings: StoreSettings,
        plan: tuple[int, ...],
        now: datetime,
    ) -> dict[str, Any] | None:
        reservation = new_reservation(
            "",  # the account's id comes from the hold, in the statement
            request.value_cents,
            plan,
            holder_email=request.buyer_email,
            order_id=request.order_id or request.reference,
            settings=settings,
            now=now,
        )
        payment = new_payment(request, now)
        payment.update(approval(reservation["id"], reservation["auto_settle_at"], now))
        params = {
            **payment,
            **{_RESERVATION + name: value for name, value in reservation.items()},
            f"{_RESERVATION}term_days": jsonio.dumps(reservation["term_days"]),
            "email": canonical_email(request.buyer_email or ""),
            "value": request.value_cents,
            "now": now,
        }
        with connection.cursor() as cursor:
            sql, constants = self._sql[settings.tolerance_enabled]
            cursor.execute(sql, {**constants, **params})
            if cursor.fetchone() is None:
                return None  # no open account for this e-mail, or not enough credit
        return payment_response(payment)


_MAX_BODY = 64 * 1024  # a create is a few kilobytes; anything larger is Flask's to refuse


class ExpressEntrance:
    """WSGI in front of Flask for the hot request: an approved ``POST /payments``.

    It reads the request the way the route does (the same credential check, the same
    schema, the same ``PaymentRequest``) and answers with the same JSON, skipping Flask's
    request context, session and routing. Whatever it does not approve, from a wrong
    token to a declined purchase, goes on to Flask with the body intact, and the route
    answers it, errors in the protocol's shape included.
    """

    def __init__(
        self,
        following: WSGIApplication,
        express: ExpressAuthorizer,
        authenticator: Authenticator,
        clock: Clock = utcnow,
    ) -> None:
        self.following = following
        self.express = express
        self.authenticator = authenticator
        self.clock = clock

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/payments" and environ.get("REQUEST_METHOD") == "POST":
            answer = self._approve(environ)
            if answer is not None:
                body = jsonio.dumps(answer).encode()
                headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
                start_response("200 OK", headers)
                return [body]
        return self.following(environ, start_response)

    def _approve(self, environ: WSGIEnvironment) -> dict[str, Any] | None:
        headers = EnvironHeaders(environ)
        if is_test_suite(headers.get(TESTSUITE_HEADER)):
            return None
        principal = self.authenticator.authenticate(*credentials_from(headers))
        if principal is None or not principal.may(PAYMENTS):
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if not 0 < length <= _MAX_BODY:
            return None
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)  # for Flask, should this decline
        try:
            data = schemas.load(_CREATE, jsonio.loads(raw))
        except (ValueError, ConnectorError):
            return None
        request = schemas.payment_request(data, test_suite=False)
        return self.express.authorize(request, self.clock())


_CREATE = schemas.CreatePaymentSchema()
