"""Express authorization (PostgreSQL, whatever the suite runs on: see ``pg``): the rows
it writes, approvals and denials for want of credit, are the general path's; it declines
everything else without writing, and it survives repeats, races and a dropped connection."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request
from psycopg._queries import _query2pg
from sqlalchemy import inspect, select, text

from connector.access.keys import create_key, hash_token, revoke_key
from connector.clock import FixedClock
from connector.context import of
from connector.credit import rules
from connector.credit.accounts import open_account
from connector.credit.check import find_drift
from connector.credit.holders import add_holder
from connector.credit.models import Account, Reservation, StoreSettingsRow
from connector.credit.reservations import release_reservation, reserve
from connector.credit.settings import load_store_settings, update_store_settings
from connector.credit.settlements import settle_reservation
from connector.db import Database
from connector.payments.authorization import PaymentRequest
from connector.payments.models import Payment
from connector.protocol.express import ExpressAuthorizer, IssuedKey, _Buyer, spending_power_sql
from tests.conftest import make_app
from tests.factories import ADMIN_KEY, ADMIN_TOKEN, NOW, payment_body

HEADERS = {"X-VTEX-API-AppKey": ADMIN_KEY, "X-VTEX-API-AppToken": ADMIN_TOKEN}


@pytest.fixture
def pg_app(pg: Database, tmp_path: Path, clock: FixedClock) -> Iterator[Flask]:
    """The app on PostgreSQL, where the express entrance stands in front of Flask."""
    app = make_app(pg, tmp_path / "instance", clock)
    assert "express" in of(app).extras
    yield app
    of(app).db.dispose()


@pytest.fixture
def express(pg: Database) -> Iterator[ExpressAuthorizer]:
    authorizer = ExpressAuthorizer(pg.engine)
    with pg.transaction() as session:
        load_store_settings(session)  # what a worker has read within the last second
    yield authorizer
    authorizer.close()


def _account(db: Database, email: str = "buyer@example.com", limit: int = 100_000) -> str:
    with db.transaction() as session:
        return open_account(session, email=email, credit_limit_cents=limit, now=NOW).id


def _request(payment_id: str, value_cents: int = 10_000, **fields: Any) -> PaymentRequest:
    values: dict[str, Any] = {
        "payment_id": payment_id,
        "value_cents": value_cents,
        "currency": "BRL",
        "installments": 1,
        "buyer_email": "buyer@example.com",
        "gateway_transaction_id": f"tx-{payment_id}",
        "order_id": f"order-{payment_id}",
        "payment_method": "Promissories",
        **fields,
    }
    return PaymentRequest(**values)


def _rows(db: Database, payment_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    with db.transaction() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None and payment.reservation_id is not None
        reservation = session.get(Reservation, payment.reservation_id)
        assert reservation is not None
        return _columns(payment), _columns(reservation)


def _columns(row: Any) -> dict[str, Any]:
    return {key: getattr(row, key) for key in inspect(type(row)).columns.keys()}  # noqa: SIM118


def _status(answer: dict[str, Any] | None) -> str | None:
    return None if answer is None else answer["status"]


def _reserved(db: Database, account_id: str) -> int:
    with db.transaction() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account.reserved_cents


def test_writes_the_rows_the_general_path_writes(
    pg: Database, express: ExpressAuthorizer, tmp_path: Path
) -> None:
    account_id = _account(pg)
    answer = express.authorize(
        _request("fast", installments=3, installment_value_cents=10_000), NOW
    )
    assert answer is not None and answer["status"] == "approved"

    general = make_app(pg, tmp_path / "instance", FixedClock(NOW), express_authorization=False)
    try:
        assert "express" not in of(general).extras
        body = payment_body("slow", "100.00", installments=3, reference=None, callbackUrl=None)
        body["miniCart"]["buyer"]["document"] = None
        response = general.test_client().post("/payments", json=body, headers=HEADERS)
        assert response.json is not None and response.json["status"] == "approved"
    finally:
        of(general).db.dispose()

    fast_payment, fast_reservation = _rows(pg, "fast")
    slow_payment, slow_reservation = _rows(pg, "slow")
    differ = {"payment_id", "gateway_transaction_id", "order_id", "reservation_id", "fingerprint"}
    differ |= {"authorization_id", "tid", "nsu", "created_at", "updated_at"}
    differ |= {"delay_to_auto_settle_seconds"}  # counted from each one's clock
    assert {k: v for k, v in fast_payment.items() if k not in differ} == {
        k: v for k, v in slow_payment.items() if k not in differ
    }
    differ = {"id", "order_id", "created_at", "updated_at", "auto_settle_at"}
    assert {k: v for k, v in fast_reservation.items() if k not in differ} == {
        k: v for k, v in slow_reservation.items() if k not in differ
    }
    assert fast_reservation["term_days"] == [30, 60, 90]
    assert fast_reservation["auto_settle_at"] is not None
    assert answer["authorizationId"] == fast_payment["authorization_id"]
    assert answer["tid"] == fast_payment["tid"]
    assert _reserved(pg, account_id) == 20_000
    with pg.transaction() as session:
        assert find_drift(session) == []


def test_a_denial_writes_the_row_and_answer_the_general_path_writes(
    pg: Database, express: ExpressAuthorizer, tmp_path: Path
) -> None:
    account_id = _account(pg, limit=100_000)
    answer = express.authorize(
        _request("fast", 100_001, installments=3, installment_value_cents=100_001), NOW
    )
    assert answer is not None and answer["status"] == "denied"

    general = make_app(pg, tmp_path / "instance", FixedClock(NOW), express_authorization=False)
    try:
        body = payment_body("slow", "1000.01", installments=3, reference=None, callbackUrl=None)
        body["miniCart"]["buyer"]["document"] = None
        slow_answer = general.test_client().post("/payments", json=body, headers=HEADERS).json
    finally:
        of(general).db.dispose()

    assert slow_answer is not None
    differ = {"paymentId", "tid", "nsu"}
    assert {k: v for k, v in answer.items() if k not in differ} == {
        k: v for k, v in slow_answer.items() if k not in differ
    }
    assert answer["code"] == "insufficient_credit"
    assert answer["message"] == "insufficient credit: 1000.00 available"
    with pg.transaction() as session:
        fast, slow = session.get(Payment, "fast"), session.get(Payment, "slow")
        assert fast is not None and slow is not None
        fast_row, slow_row = _columns(fast), _columns(slow)
    differ = {"payment_id", "gateway_transaction_id", "order_id", "fingerprint", "tid", "nsu"}
    assert {k: v for k, v in fast_row.items() if k not in differ} == {
        k: v for k, v in slow_row.items() if k not in differ
    }
    assert fast_row["account_id"] == account_id and fast_row["reservation_id"] is None
    assert _reserved(pg, account_id) == 0
    with pg.transaction() as session:
        assert session.scalars(select(Reservation)).all() == []


def _no_payments(db: Database) -> bool:
    with db.transaction() as session:
        return session.scalars(select(Payment)).all() == []


def test_a_store_reviewing_over_limit_purchases_gets_them_from_the_general_path(
    pg: Database,
) -> None:
    _account(pg, limit=100_000)
    with pg.transaction() as session:
        update_store_settings(session, {"over_limit_review_enabled": True})
    authorizer = ExpressAuthorizer(pg.engine)
    try:
        assert authorizer.authorize(_request("p1", 100_001), NOW) is None
    finally:
        authorizer.close()
    assert _no_payments(pg)


def test_a_blocked_account_is_worded_by_the_general_path(pg: Database) -> None:
    """An overdue invoice blocks before credit is counted: the general path says so."""
    settled = NOW - timedelta(days=40)  # its 30-day invoice is ten days overdue at NOW
    with pg.transaction() as session:
        account = open_account(
            session, email="buyer@example.com", credit_limit_cents=100_000, now=settled
        )
        held = reserve(session, account.id, 10_000, now=settled)
        settle_reservation(session, held.id, now=settled)
        update_store_settings(
            session, {"block_purchases_when_overdue": True, "overdue_grace_days": 0}
        )
    authorizer = ExpressAuthorizer(pg.engine)
    try:
        assert authorizer.authorize(_request("p1", 100_001), NOW) is None
    finally:
        authorizer.close()
    assert _no_payments(pg)


def test_a_revoked_key_writes_no_denial(pg: Database) -> None:
    _account(pg, limit=100_000)
    with pg.transaction() as session:
        issued = create_key(session, role="gateway")
        revoke_key(session, issued.app_key)
    authorizer = ExpressAuthorizer(pg.engine)
    key = IssuedKey(issued.app_key, hash_token(issued.app_token))
    try:
        assert authorizer.authorize(_request("p1", 100_001), NOW, key) is None
    finally:
        authorizer.close()
    assert _no_payments(pg)


def test_figures_that_fit_are_left_to_the_general_path(
    pg: Database, express: ExpressAuthorizer
) -> None:
    """A snapshot that shows room means a race: the general path decides under the lock."""
    account_id = _account(pg, limit=100_000)
    with pg.transaction() as session:
        settings = load_store_settings(session)
        revision = session.scalar(select(StoreSettingsRow.revision)) or 0
    buyer = _Buyer(account_id, 100_000, 0, 0, 0, False)
    connection = express.connection()
    assert express._deny(connection, _request("p1"), None, revision, settings, buyer, NOW) is None
    assert _no_payments(pg)


@pytest.mark.parametrize(
    ("why", "request_fields"),
    [
        ("no account by that e-mail", {"buyer_email": "stranger@example.com"}),
        ("test-suite traffic", {"test_suite": True, "card_number": "4444333322221111"}),
        ("another currency", {"currency": "USD"}),
        ("another payment method", {"payment_method": "Visa"}),
        ("installments the store does not offer", {"installments": 7}),
        ("no buyer e-mail", {"buyer_email": None, "buyer_document": "12345678909"}),
    ],
)
def test_declines_without_writing(
    pg: Database, express: ExpressAuthorizer, why: str, request_fields: dict[str, Any]
) -> None:
    account_id = _account(pg)
    assert express.authorize(_request("p1", **request_fields), NOW) is None, why
    with pg.transaction() as session:
        assert session.scalars(select(Payment)).all() == []
        assert session.scalars(select(Reservation)).all() == []
    assert _reserved(pg, account_id) == 0


def test_a_settings_change_decides_the_next_purchase(pg: Database) -> None:
    """Whichever worker changed them, the next purchase is decided by the new settings."""
    with pg.transaction() as session:
        account = open_account(session, email="buyer@example.com", credit_limit_cents=100_000)
        account.tolerance_bps = 1_000
        update_store_settings(session, {"tolerance_enabled": False})
    authorizer = ExpressAuthorizer(pg.engine)
    try:
        # Above the limit, within a tolerance the store does not use: declined, and the
        # settings it was decided by are what this worker now remembers.
        assert _status(authorizer.authorize(_request("p1", 105_000), NOW)) == "denied"
        with pg.transaction() as session:  # any worker switches tolerance on
            update_store_settings(session, {"tolerance_enabled": True})
        assert _status(authorizer.authorize(_request("p2", 105_000), NOW)) == "approved"
        with pg.transaction() as session:  # and off again: the headroom is gone at once
            update_store_settings(session, {"tolerance_enabled": False})
            p2 = session.get(Payment, "p2")
            assert p2 is not None and p2.reservation_id is not None
            release_reservation(session, p2.reservation_id, now=NOW)  # that order cancelled
        assert _status(authorizer.authorize(_request("p3", 105_000), NOW)) == "denied"
    finally:
        authorizer.close()
    assert _reserved(pg, account.id) == 0


def test_a_revoked_key_is_refused_at_once(pg_app: Flask, pg: Database) -> None:
    account_id = _account(pg)
    with pg.transaction() as session:
        issued = create_key(session, role="gateway")
    headers = {"X-VTEX-API-AppKey": issued.app_key, "X-VTEX-API-AppToken": issued.app_token}
    reached_flask: list[str] = []
    pg_app.before_request(lambda: reached_flask.append(request.path) and None)
    client = pg_app.test_client()
    approved = client.post("/payments", json=payment_body("p1", "100.00"), headers=headers)
    assert approved.json is not None and approved.json["status"] == "approved"
    assert reached_flask == []  # the express path approved it, the key checked in its SQL
    with pg.transaction() as session:
        revoke_key(session, issued.app_key)
    refused = client.post("/payments", json=payment_body("p2", "100.00"), headers=headers)
    assert refused.status_code == 401
    assert _reserved(pg, account_id) == 10_000


def test_a_dependent_spends_from_the_account(pg: Database, express: ExpressAuthorizer) -> None:
    account_id = _account(pg)
    with pg.transaction() as session:
        add_holder(session, account_id, "Buyer.Two@Example.com")
    answer = express.authorize(_request("p1", buyer_email="buyer.two@example.com"), NOW)
    assert answer is not None and answer["status"] == "approved"
    assert _reserved(pg, account_id) == 10_000


def test_a_repeat_declines_and_the_route_replays_the_original(
    pg_app: Flask, pg: Database, express: ExpressAuthorizer
) -> None:
    account_id = _account(pg)
    client = pg_app.test_client()
    first = client.post("/payments", json=payment_body("p1", "100.00"), headers=HEADERS).json
    again = client.post("/payments", json=payment_body("p1", "100.00"), headers=HEADERS).json
    assert first is not None and first["status"] == "approved"
    assert again == first
    assert express.authorize(_request("p1"), NOW) is None
    assert _reserved(pg, account_id) == 10_000
    with pg.transaction() as session:
        assert len(session.scalars(select(Reservation)).all()) == 1


def test_a_dropped_connection_is_replaced(pg: Database, express: ExpressAuthorizer) -> None:
    account_id = _account(pg)
    assert express.authorize(_request("p1"), NOW) is not None
    with pg.engine.begin() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE pid <> pg_backend_pid() AND datname = current_database()"
                " AND state = 'idle'"
            )
        )
    # The broken connection declines (the route then takes the general path) ...
    assert express.authorize(_request("p2"), NOW) is None
    # ... and the next purchase runs on a new one.
    assert express.authorize(_request("p3"), NOW) is not None
    assert _reserved(pg, account_id) == 20_000


def test_concurrent_purchases_never_overspend(pg: Database, express: ExpressAuthorizer) -> None:
    account_id = _account(pg, limit=100_000)  # 1,000.00: room for ten purchases of 100.00

    def buy(i: int) -> bool:
        return _status(express.authorize(_request(f"p{i}"), NOW)) == "approved"

    with ThreadPoolExecutor(max_workers=16) as pool:
        approved = sum(pool.map(buy, range(40)))
    assert approved == 10
    assert _reserved(pg, account_id) == 100_000
    with pg.transaction() as session:
        assert len(session.scalars(select(Reservation)).all()) == 10
        assert find_drift(session) == []


FIGURES = [
    # limit, balance, reserved, tolerance (bps)
    (100_000, 0, 0, 0),
    (100_000, -30_000, 12_345, 1_000),
    (333, 0, 0, 1),  # a headroom below one cent rounds down to nothing
    (99_999, 0, 0, 3_333),  # 33,329.6667 cents of headroom: 33,329
    (0, 5_000, 0, 10_000),  # credit from an overpayment, no limit
    (10**13, -(10**12), 10**12, 9_999),
    (50_000, -60_000, 0, 500),  # overdrawn: no power at all
]


@pytest.mark.parametrize("tolerance_enabled", [False, True])
def test_the_spending_power_in_sql_is_the_rule(pg: Database, tolerance_enabled: bool) -> None:
    ids = []
    with pg.transaction() as session:
        for n, (limit, balance, reserved, bps) in enumerate(FIGURES):
            account = open_account(session, email=f"b{n}@example.com", credit_limit_cents=limit)
            account.balance_cents, account.reserved_cents = balance, reserved
            account.tolerance_bps = bps
            ids.append(account.id)
    with pg.transaction() as session:
        rows = session.execute(
            select(Account.id, spending_power_sql(tolerance_enabled)).where(Account.id.in_(ids))
        )
        in_sql = {account_id: power for account_id, power in rows}
    for account_id, (limit, balance, reserved, bps) in zip(ids, FIGURES, strict=True):
        expected = rules.spending_power(limit, balance, reserved, bps, tolerance_enabled)
        assert in_sql[account_id] == expected, (limit, balance, reserved, bps)


def test_approves_up_to_the_last_cent_of_the_tolerance(pg: Database) -> None:
    with pg.transaction() as session:
        update_store_settings(session, {"tolerance_enabled": True})
        account = open_account(session, email="buyer@example.com", credit_limit_cents=99_999)
        account.tolerance_bps = 3_333  # headroom 33,329 cents: power 133,328
        load_store_settings(session)
    authorizer = ExpressAuthorizer(pg.engine)
    try:
        assert _status(authorizer.authorize(_request("over", 133_329), NOW)) == "denied"
        assert _status(authorizer.authorize(_request("exact", 133_328), NOW)) == "approved"
        assert _status(authorizer.authorize(_request("one-more", 1), NOW)) == "denied"
    finally:
        authorizer.close()
    assert _reserved(pg, account.id) == 133_328


def test_the_entrance_answers_approvals_and_denials_and_flask_the_rest(
    pg_app: Flask, pg: Database
) -> None:
    reached_flask: list[str] = []
    pg_app.before_request(lambda: reached_flask.append(request.path) and None)
    _account(pg, limit=100_000)
    client = pg_app.test_client()

    approved = client.post("/payments", json=payment_body("p1", "100.00"), headers=HEADERS)
    assert approved.status_code == 200 and approved.json is not None
    assert approved.json["status"] == "approved"
    assert approved.headers["Content-Type"] == "application/json"
    assert reached_flask == []

    denied = client.post("/payments", json=payment_body("p2", "5000.00"), headers=HEADERS)
    assert denied.json is not None and denied.json["status"] == "denied"
    assert reached_flask == []  # a denial for want of credit is answered there too
    wrong_token = {**HEADERS, "X-VTEX-API-AppToken": "not-the-token"}
    refused = client.post("/payments", json=payment_body("p3", "1.00"), headers=wrong_token)
    assert refused.status_code == 401 and refused.json is not None
    assert refused.json["status"] == "error"
    bad = client.post(
        "/payments",
        data=b"{not json",
        headers={**HEADERS, "Content-Type": "application/json"},
    )
    assert bad.status_code == 400 and bad.json is not None
    assert bad.json["code"] == "malformed_json"
    assert reached_flask == ["/payments"] * 2


@pytest.mark.parametrize("tolerance", [False, True], ids=["", "tolerance"])
@pytest.mark.parametrize("blocking", [False, True], ids=["", "blocking"])
@pytest.mark.parametrize("issued", [False, True], ids=["configured key", "issued key"])
def test_the_statement_is_converted_once_not_on_every_purchase(
    pg: Database, tolerance: bool, blocking: bool, issued: bool
) -> None:
    """psycopg keeps a statement's converted placeholders only for statements within its
    limits (MAX_CACHED_STATEMENT_LENGTH and _PARAMS); beyond them every purchase parses
    the whole statement again, which cost about a tenth of the express path's time."""
    _account(pg, limit=10_000_000)
    with pg.transaction() as session:
        update_store_settings(
            session, {"tolerance_enabled": tolerance, "block_purchases_when_overdue": blocking}
        )
        key = create_key(session, role="gateway") if issued else None
    with pg.transaction() as session:
        load_store_settings(session)
    authorizer = ExpressAuthorizer(pg.engine)
    issued_key = IssuedKey(key.app_key, hash_token(key.app_token)) if key else None
    try:
        assert authorizer.authorize(_request("p1"), NOW, issued_key) is not None
        before = _query2pg.cache_info()
        assert authorizer.authorize(_request("p2"), NOW, issued_key) is not None
        after = _query2pg.cache_info()
    finally:
        authorizer.close()
    assert after.hits > before.hits and after.misses == before.misses
