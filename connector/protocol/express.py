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

The common denial is answered here too: when the statement holds nothing, it also
returns the buyer's open account as it saw it, and when those figures leave no room for
the purchase, ``refuse_beyond_credit`` (the credit rule the general path applies) words
the denial and one INSERT writes the denied payment, guarded by the same settings
revision and key. A hot account out of credit is thus refused at the express path's pace
without taking its row lock (a denial changes no credit; the snapshot is the account's
committed state at that moment).

When the statement writes nothing otherwise (no open account for that e-mail, figures
that fit after all because another purchase or a release raced it, a store that reviews
over-limit purchases, an account blocked by an overdue invoice), or the request is
anything but the common case (test-suite cards, a buyer without e-mail, what
``check_payment`` or ``plan_for`` refuse), or the database refuses (a repeated
``paymentId`` collides) or fails, nothing is written and the caller takes the general
path (``authorize_payment``), which handles every case and words every denial. A failure
while the statement commits is ambiguous; the general path then looks the payment up
first, so a committed one is replayed and never reserved twice.

The statement also holds only while the store settings are still the revision this
worker decided by (it answers the current revision; on a change the worker reads the
settings again and tries once more), and, when the caller uses an issued key, while that
key is valid: a settings change or a key revocation counts from the next request on, in
every worker, with no extra round trip.

Each thread keeps its own autocommit connection (prepared statements live per
connection), outside the engine's pool; it is dropped and opened again when it breaks.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import set_json_loads
from sqlalchemy import (
    ColumnElement,
    Engine,
    Insert,
    bindparam,
    exists,
    false,
    func,
    insert,
    inspect,
    literal,
    null,
    or_,
    select,
    update,
)
from werkzeug.datastructures import EnvironHeaders

from connector import jsonio, metrics
from connector.access.keys import ApiKey, hash_token
from connector.access.principals import (
    PAYMENTS,
    Authenticator,
    credentials_from,
    roles_that_may,
)
from connector.clock import Clock, utcnow
from connector.credit import rules
from connector.credit.blocking import blocked, blocking_day
from connector.credit.holders import buyer_account_conditions
from connector.credit.identity import canonical_email
from connector.credit.models import Account, Invoice, Reservation, StoreSettingsRow
from connector.credit.reservations import new_reservation, plan_for, refuse_beyond_credit
from connector.credit.settings import (
    StoreSettings,
    cached_store_settings,
    remember_store_settings,
    settings_key,
)
from connector.errors import ConnectorError, CreditDenied
from connector.payments.answers import Answer, payment_response
from connector.payments.authorization import PaymentRequest, check_payment, new_payment
from connector.payments.models import Payment
from connector.payments.states import approval, auto_settle_delay, denial
from connector.protocol import schemas
from connector.protocol.schemas import TESTSUITE_HEADER, is_test_suite
from connector.wire import unstorable

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from connector.protocol.express_operations import ExpressOperations

log = logging.getLogger(__name__)

_RESERVATION = "r_"  # no column of payments starts so: the names cannot collide


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


# Columns a new row always leaves NULL: written so, not bound (each bound parameter counts
# towards psycopg's limit, see ``_statement``).
_NULL_ON_A_NEW_ROW = frozenset({"purchase_number"})  # a reservation's, taken when invoiced


def _rows_of(model: Any, prefix: str, account_id: Any) -> Insert:
    """INSERT ... SELECT of every column, bound by its attribute's name (the keys of the
    dict that built the row), the account's id from the reservation's UPDATE."""
    columns = inspect(model).columns.items()
    values = [
        account_id
        if key == "account_id"
        else null()
        if key in _NULL_ON_A_NEW_ROW
        else bindparam(prefix + key, type_=column.type)
        for key, column in columns
    ]
    return insert(model.__table__).from_select([c for _, c in columns], select(*values))


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_LABEL = re.compile(r" AS anon_\d+\b")


def settings_revision() -> ColumnElement[int]:
    """The store settings' revision as committed (0 before the first save)."""
    return func.coalesce(
        select(StoreSettingsRow.revision).where(StoreSettingsRow.id == 1).scalar_subquery(), 0
    )


def key_is_valid() -> ColumnElement[bool]:
    """The caller's issued key (``:app_key``, ``:token_sha256``) is live and may pay."""
    return exists().where(
        ApiKey.id == bindparam("app_key"),
        ApiKey.token_sha256 == bindparam("token_sha256"),
        ApiKey.revoked_at.is_(None),
        or_(*(ApiKey.role == role for role in roles_that_may(PAYMENTS))),
    )


def _statement(
    engine: Engine, tolerance_enabled: bool, issued_key: bool, blocking: bool
) -> tuple[str, tuple[str, ...]]:
    """The SQL for the driver, and the names of the parameters it takes.

    It answers one row: the new payment's id (NULL when nothing was written), the store
    settings' revision, and, when nothing was written, the buyer's open account as the
    statement saw it (``_Buyer``'s fields as a JSON array; NULL without one). The hold
    happens only while the settings are still the revision the caller decided by, and,
    for an issued key, while that key is valid: a change or a revocation committed before
    this statement decides it. With ``blocking``, only while the account has no invoice
    overdue on ``:blocked_on`` (``credit.blocking``).
    """
    value = bindparam("value", type_=Account.reserved_cents.type)
    # The settings row is read once, as a CTE both the condition and the answer use: every
    # purchase touches that one hot row, so a second lookup would cost on every purchase.
    settings = select(settings_revision().label("revision")).cte("settings")
    revision = select(settings.c.revision).scalar_subquery()
    conditions: list[ColumnElement[bool]] = [
        literal(0) < value,
        value <= spending_power_sql(tolerance_enabled),
        revision == bindparam("revision"),
    ]
    column = Account.__table__.c
    is_blocked: ColumnElement[bool] = false()
    if blocking:
        is_blocked = blocked(column.id, bindparam("blocked_on", type_=Invoice.due_date.type))
        conditions.append(~is_blocked)
    if issued_key:
        conditions.append(key_is_valid())
    reserve = (
        update(Account)
        .where(*buyer_account_conditions(bindparam("email")), *conditions)
        .values(reserved_cents=Account.reserved_cents + value, updated_at=bindparam("now"))
        .returning(Account.id)
        .cte("reserve")
    )
    # Each INSERT selects FROM reserve: no hold, no row.
    reservation = _rows_of(Reservation, _RESERVATION, reserve.c.id).cte("reservation")
    payment = _rows_of(Payment, "", reserve.c.id).returning(Payment.payment_id).cte("payment")
    # Looked up only when nothing was held (a one-time filter), for the denial's wording.
    buyer = (
        select(
            func.json_build_array(
                column.id,
                column.credit_limit_cents,
                column.balance_cents,
                column.reserved_cents,
                column.tolerance_bps,
                is_blocked,
            )
        )
        .where(*buyer_account_conditions(bindparam("email")))
        .where(~exists(select(payment.c.payment_id)))
        .scalar_subquery()
    )
    answer = select(
        select(payment.c.payment_id).scalar_subquery().label("payment_id"),
        revision.label("revision"),
        buyer.label("buyer"),
    ).add_cte(settings, reserve, reservation, payment)
    return for_the_driver(answer, engine)


def _denial_statement(engine: Engine, issued_key: bool) -> tuple[str, tuple[str, ...]]:
    """A denied payment's INSERT, written only while the settings are still the revision
    the caller decided by and, for an issued key, while that key is valid."""
    columns = inspect(Payment).columns.items()
    values = [bindparam(key, type_=column.type) for key, column in columns]
    conditions = [settings_revision() == bindparam("revision")]
    if issued_key:
        conditions.append(key_is_valid())
    statement = (
        insert(Payment)
        .from_select([c for _, c in columns], select(*values).where(*conditions))
        .returning(Payment.payment_id)
    )
    return for_the_driver(statement, engine)


def for_the_driver(statement: Any, engine: Engine) -> tuple[str, tuple[str, ...]]:
    """The statement's SQL with its constants written in, and the parameters it names."""
    compiled = statement.compile(dialect=engine.dialect)
    # The select list's labels name nothing anyone reads (INSERT ... SELECT goes by
    # position): dropped, they keep the statement within psycopg's cache (see below).
    sql = _LABEL.sub("", str(compiled))
    # The constants (the open status, the roles, ...) are written into the SQL rather than
    # bound: psycopg converts a statement's placeholders once and keeps the result only
    # for statements of at most MAX_CACHED_STATEMENT_PARAMS parameters and
    # MAX_CACHED_STATEMENT_LENGTH bytes; beyond either, every purchase would pay for
    # parsing the whole statement again.
    for name, value in compiled.params.items():
        if value is not None:
            sql = sql.replace(f"%({name})s", _literal(value))
    # Only the parameters the statement names are passed: the count is what psycopg checks.
    return sql, tuple(sorted(set(_PLACEHOLDER.findall(sql))))


def _literal(value: Any) -> str:
    """One of the statement's own constants as SQL: an integer, or a plain word."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"not a constant of the statement: {value!r}")
    if isinstance(value, int):
        return str(value)
    if not value.replace("_", "").isalnum():
        raise ValueError(f"not a plain word: {value!r}")
    return f"'{value}'"


@dataclass(frozen=True)
class IssuedKey:
    """The credentials of an issued key, checked by the statement itself."""

    app_key: str
    token_sha256: str


@dataclass(frozen=True)
class _Buyer:
    """The buyer's open account as the statement saw it, when it held nothing."""

    account_id: str
    limit_cents: int
    balance_cents: int
    reserved_cents: int
    tolerance_bps: int
    blocked: bool


class ExpressAuthorizer:
    """Approves the common purchase on PostgreSQL, or declines so the general path runs."""

    def __init__(self, engine: Engine, *, prepared_statements: bool = True) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("express authorization needs PostgreSQL")
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        # Prepared from the first use, as it runs on every purchase; never behind a
        # transaction-mode pooler, where the next statement may reach another connection.
        prepare = 0 if prepared_statements else None
        self._connect_args = (
            list(args),
            {**kwargs, "autocommit": True, "prepare_threshold": prepare},
        )
        self.settings_key = settings_key(engine)
        self._local = threading.local()
        self._opened: list[psycopg.Connection[Any]] = []
        self._opened_lock = threading.Lock()
        self._sql = {
            (tolerance, issued, blocking): _statement(engine, tolerance, issued, blocking)
            for tolerance in (False, True)
            for issued in (False, True)
            for blocking in (False, True)
        }
        self._denial_sql = {issued: _denial_statement(engine, issued) for issued in (False, True)}
        current = select(StoreSettingsRow.revision, StoreSettingsRow.document).where(
            StoreSettingsRow.id == bindparam("id")
        )
        self._settings_sql = str(current.compile(dialect=engine.dialect))

    def connection(self) -> psycopg.Connection[Any]:
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

    def authorize(
        self, request: PaymentRequest, now: datetime, key: IssuedKey | None = None
    ) -> dict[str, Any] | None:
        """The answer, committed: an approval, or a denial for want of credit; or None,
        with nothing written.

        ``key``: the caller's issued key, checked in the statement (None: the configured
        pair, already checked).
        """
        if request.test_suite or not request.buyer_email or request.value_cents <= 0:
            return None
        try:
            connection = self.connection()
            cached = cached_store_settings(self.settings_key)
            revision, settings = cached or self.read_settings(connection)
            answer, current, buyer = self._approve(
                connection, request, key, revision, settings, now
            )
            if answer is None and current != revision:
                # The settings changed since this worker read them: decide by the new ones.
                revision, settings = self.read_settings(connection)
                answer, current, buyer = self._approve(
                    connection, request, key, revision, settings, now
                )
            if answer is None and buyer is not None and current == revision:
                answer = self._deny(connection, request, key, revision, settings, buyer, now)
            return answer
        except CreditDenied:
            return None  # the general path words the denial
        except psycopg.Error as error:
            if isinstance(error, psycopg.errors.UniqueViolation):
                log.debug("payment %s is a repeat; replaying it", request.payment_id)
            else:
                log.warning("express authorization failed, taking the general path: %s", error)
            return None

    def read_settings(self, connection: psycopg.Connection[Any]) -> tuple[int, StoreSettings]:
        """The store's settings as committed now, remembered as ``load_store_settings`` does."""
        with connection.cursor() as cursor:
            row = cursor.execute(self._settings_sql, {"id": 1}).fetchone()
        revision, document = (row[0], row[1]) if row is not None else (0, None)
        return revision, remember_store_settings(self.settings_key, revision, document)

    def _approve(
        self,
        connection: psycopg.Connection[Any],
        request: PaymentRequest,
        key: IssuedKey | None,
        revision: int,
        settings: StoreSettings,
        now: datetime,
    ) -> tuple[dict[str, Any] | None, int, _Buyer | None]:
        """The approved answer (or None: nothing written), the settings' revision now, and
        when nothing was written, the buyer's open account as the statement saw it."""
        check_payment(request, settings)
        plan = plan_for(settings, request.installments)
        reservation = new_reservation(
            "",  # the account's id comes from the hold, in the statement
            request.value_cents,
            plan,
            holder_email=request.buyer_email,
            order_id=request.order_id or request.reference,
            installment_value_cents=request.installment_value_cents,
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
            "revision": revision,
        }
        if key is not None:
            params.update(app_key=key.app_key, token_sha256=key.token_sha256)
        blocked_on = blocking_day(settings, now)
        if blocked_on is not None:
            params["blocked_on"] = blocked_on
        with connection.cursor() as cursor:
            variant = (settings.tolerance_enabled, key is not None, blocked_on is not None)
            sql, names = self._sql[variant]
            bound = {name: params[name] for name in names}
            written, current, buyer = cursor.execute(sql, bound).fetchone() or (None, 0, None)
        if written is None:  # no such account, not enough credit, or news to read
            return None, current, None if buyer is None else _Buyer(*buyer)
        return payment_response(payment), current, None

    def _deny(
        self,
        connection: psycopg.Connection[Any],
        request: PaymentRequest,
        key: IssuedKey | None,
        revision: int,
        settings: StoreSettings,
        buyer: _Buyer,
        now: datetime,
    ) -> dict[str, Any] | None:
        """The denied answer when the purchase does not fit the buyer's credit, committed;
        or None (nothing written) for anything the general path decides.

        The figures are the statement's snapshot: a denial by them is one the account's
        committed state gave at that moment, so no lock is needed (a denial changes no
        credit). When they say the purchase fits, a purchase or a release raced it: the
        general path decides under the account's lock. A store that reviews over-limit
        purchases, and a blocked account, are worded there too.
        """
        if settings.over_limit_review_enabled or buyer.blocked:
            return None
        try:
            refuse_beyond_credit(
                request.value_cents,
                limit_cents=buyer.limit_cents,
                balance_cents=buyer.balance_cents,
                reserved_cents=buyer.reserved_cents,
                tolerance_bps=buyer.tolerance_bps,
                tolerance_enabled=settings.tolerance_enabled,
            )
        except CreditDenied as refusal:
            payment = new_payment(request, now)
            payment.update(denial(refusal.code, refusal.message))
            payment["account_id"] = buyer.account_id
            payment["delay_to_auto_settle_seconds"] = auto_settle_delay(
                settings.auto_settle_at(now), now
            )
            params = {**payment, "revision": revision}
            if key is not None:
                params.update(app_key=key.app_key, token_sha256=key.token_sha256)
            sql, names = self._denial_sql[key is not None]
            with connection.cursor() as cursor:
                written = cursor.execute(sql, {name: params[name] for name in names}).fetchone()
            return None if written is None else payment_response(payment)
        return None


_MAX_BODY = 64 * 1024  # a create is a few kilobytes; anything larger is Flask's to refuse


class ExpressEntrance:
    """WSGI in front of Flask for the hot requests: an approved ``POST /payments``, and
    the common settlement and refund (``connector.protocol.express_operations``).

    It reads the request the way the route does (the same credential check, the same
    schema, the same ``PaymentRequest``) and answers with the same JSON, skipping Flask's
    request context, session and routing. Whatever it does not answer, from a wrong
    token to a declined purchase, goes on to Flask with the body intact, and the route
    answers it, errors in the protocol's shape included.
    """

    def __init__(
        self,
        following: WSGIApplication,
        express: ExpressAuthorizer,
        authenticator: Authenticator,
        clock: Clock = utcnow,
        operations: ExpressOperations | None = None,
    ) -> None:
        self.following = following
        self.express = express
        self.authenticator = authenticator
        self.clock = clock
        self.operations = operations

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            try:
                answer = self._answer(environ)
            except Exception:  # never an empty 500: Flask answers whatever this cannot
                log.exception("express entrance failed; the route answers")
                answer = None
            if answer is not None:
                body = jsonio.dumps(answer.body).encode()
                headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
                status = HTTPStatus(answer.http_status)
                start_response(f"{status.value} {status.phrase}", headers)
                return [body]
        return self.following(environ, start_response)

    def _answer(self, environ: WSGIEnvironment) -> Answer | None:
        path = environ.get("PATH_INFO") or ""
        if path == "/payments":
            return self._approve(environ)
        operation = _OPERATION_PATH.fullmatch(path)
        if operation is not None and self.operations is not None:
            return self._operate(environ, operation["payment_id"], operation["kind"])
        return None

    def _caller(self, headers: EnvironHeaders) -> tuple[bool, IssuedKey | None]:
        """Whether this path may answer the caller, and the issued key its statement checks
        (None: the configured pair, checked here)."""
        if is_test_suite(headers.get(TESTSUITE_HEADER)):
            return False, None
        app_key, app_token = credentials_from(headers)
        if not app_key or not app_token:
            return False, None
        if self.authenticator.configured(app_key, app_token) is not None:
            return True, None
        if self.authenticator.names_configured_key(app_key):
            return False, None  # the configured key with another token: Flask refuses it
        # An issued key: checked in the statement, so a revocation counts at once.
        return True, IssuedKey(app_key, hash_token(app_token))

    def _json(self, environ: WSGIEnvironment) -> Any:
        """The body as JSON, left readable for Flask; None when it is not for this path."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if not 0 < length <= _MAX_BODY:
            return None
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)  # for Flask, should this decline
        try:
            return jsonio.loads(raw)
        except ValueError:
            return None

    def _approve(self, environ: WSGIEnvironment) -> Answer | None:
        allowed, key = self._caller(EnvironHeaders(environ))
        if not allowed:
            return None
        try:
            data = schemas.load(_CREATE, self._json(environ))
        except ConnectorError:
            return None
        request = schemas.payment_request(data, test_suite=False)
        answer = self.express.authorize(request, self.clock(), key)
        if answer is None:
            return None
        metrics.count_express_answer(answer["status"], answer["code"], request.value_cents)
        return Answer(200, answer)

    def _operate(self, environ: WSGIEnvironment, payment_id: str, kind: str) -> Answer | None:
        """A settlement or refund the express operations answer, or None."""
        assert self.operations is not None
        # What the route's path check accepts, in plain ASCII (the path's bytes as sent).
        if len(payment_id) > schemas.MAX_ID or not payment_id.isascii() or unstorable(payment_id):
            return None
        allowed, key = self._caller(EnvironHeaders(environ))
        if not allowed:
            return None
        try:
            data = schemas.load(_OPERATION, self._json(environ))
        except ConnectorError:
            return None
        if data.get("paymentId") not in (None, payment_id):
            return None  # refused by the route, in its words
        act = self.operations.settle if kind == "settlements" else self.operations.refund
        return act(payment_id, data["requestId"], data.get("value"), self.clock(), key)


_OPERATION_PATH = re.compile(r"/payments/(?P<payment_id>[^/]+)/(?P<kind>settlements|refunds)")
_OPERATION = schemas.OperationSchema()
_CREATE = schemas.CreatePaymentSchema()
