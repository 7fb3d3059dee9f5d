"""Express settlements and refunds (PostgreSQL, whatever the suite runs on: see ``pg``):
the rows they write are the general path's, they decline everything else without writing,
and a change between their read and their write leaves nothing half done."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import request
from sqlalchemy import inspect, select

from connector.access.keys import create_key, hash_token, revoke_key
from connector.clock import FixedClock
from connector.context import of
from connector.credit.accounts import open_account
from connector.credit.check import find_drift
from connector.credit.invoices import pay_invoice
from connector.credit.models import Account, Invoice, Reservation, StatementEntry
from connector.credit.reservations import release_reservation
from connector.credit.settings import load_store_settings, update_store_settings
from connector.db import Database
from connector.payments.authorization import PaymentRequest
from connector.payments.models import Payment, PaymentOperation
from connector.payments.operations import cancel_payment, refund_payment, settle_payment
from connector.payments.states import Refused
from connector.protocol.express import ExpressAuthorizer, IssuedKey
from connector.protocol.express_operations import ExpressOperations
from tests.conftest import make_app
from tests.factories import ADMIN_KEY, ADMIN_TOKEN, NOW, payment_body

HEADERS = {"X-VTEX-API-AppKey": ADMIN_KEY, "X-VTEX-API-AppToken": ADMIN_TOKEN}


@pytest.fixture
def express(pg: Database) -> Iterator[tuple[ExpressAuthorizer, ExpressOperations]]:
    authorizer = ExpressAuthorizer(pg.engine)
    with pg.transaction() as session:
        load_store_settings(session)
    yield authorizer, ExpressOperations(authorizer, pg.engine)
    authorizer.close()


def _account(db: Database, email: str = "buyer@example.com", limit: int = 1_000_000) -> str:
    with db.transaction() as session:
        return open_account(session, email=email, credit_limit_cents=limit, now=NOW).id


def _approve(authorizer: ExpressAuthorizer, payment_id: str, value: int, **fields: Any) -> None:
    values: dict[str, Any] = {
        "payment_id": payment_id,
        "value_cents": value,
        "currency": "BRL",
        "installments": 3,
        "buyer_email": "buyer@example.com",
        "gateway_transaction_id": f"tx-{payment_id}",
        "order_id": f"order-{payment_id}",
        "payment_method": "Promissories",
        **fields,
    }
    answer = authorizer.authorize(PaymentRequest(**values), NOW)
    assert answer is not None and answer["status"] == "approved"


def _columns(row: Any) -> dict[str, Any]:
    return {key: getattr(row, key) for key in inspect(type(row)).columns.keys()}  # noqa: SIM118


def _state(db: Database, payment_id: str) -> dict[str, Any]:
    """What a payment's operations left, without what differs between two purchases by
    construction (ids, order ids, purchase numbers)."""
    with db.transaction() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None and payment.reservation_id is not None
        reservation = session.get(Reservation, payment.reservation_id)
        assert reservation is not None
        invoices = session.scalars(
            select(Invoice).where(Invoice.reservation_id == reservation.id).order_by(Invoice.id)
        ).all()
        entries = session.scalars(
            select(StatementEntry)
            .where(StatementEntry.reservation_id == reservation.id)
            .order_by(StatementEntry.origin, StatementEntry.invoice_id)
        ).all()
        operations = session.scalars(
            select(PaymentOperation)
            .where(PaymentOperation.payment_id == payment_id)
            .order_by(PaymentOperation.created_at, PaymentOperation.kind)
        ).all()
        rid, order = reservation.id, reservation.order_id

        def plain(row: Any, *differ: str) -> dict[str, Any]:
            values = {k: v for k, v in _columns(row).items() if k not in differ}
            return {
                k: v.replace(rid, "R").replace(order or "", "O") if isinstance(v, str) else v
                for k, v in values.items()
            }

        def details(entry: StatementEntry) -> dict[str, Any]:
            return {**entry.details, "transactionId": "R", "orderId": "O"}

        return {
            "payment": plain(payment, "payment_id", "gateway_transaction_id", "tid", "nsu")
            | {"order_id": None, "authorization_id": None, "fingerprint": None},
            "reservation": plain(reservation, "id", "purchase_number", "created_at"),
            "invoices": [plain(i, "friendly_id") for i in invoices],
            "friendly": [i.friendly_id.split("-")[1] for i in invoices],
            "entries": [plain(e, "id") | {"details": details(e)} for e in entries],
            "operations": [
                plain(o, "id", "payment_id")
                | {"response": {k: v for k, v in o.response.items() if not k.endswith("Id")}}
                for o in operations
            ],
        }


def _balance(db: Database, account_id: str) -> tuple[int, int]:
    with db.transaction() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account.balance_cents, account.reserved_cents


def _general(db: Database, act: Any) -> Any:
    with db.transaction() as session:
        return act(session)


@pytest.mark.parametrize(
    ("value", "installment", "settle", "refunds"),
    [
        (30_000, 10_000, None, [None]),  # all of it, agreed installments, then the rest
        (30_001, None, 20_000, [1, 6_667]),  # part settled (the rest released), odd cents
        (9_000, 3_000, 9_000, [3_000, 2_999]),  # refunds closing the last invoice, then more
    ],
)
def test_settle_and_refund_write_the_rows_the_general_path_writes(
    pg: Database,
    express: tuple[ExpressAuthorizer, ExpressOperations],
    value: int,
    installment: int | None,
    settle: int | None,
    refunds: list[int | None],
) -> None:
    authorizer, operations = express
    account_id = _account(pg)
    _approve(authorizer, "fast", value, installment_value_cents=installment)
    _approve(authorizer, "slow", value, installment_value_cents=installment)

    fast = operations.settle("fast", "s", settle, NOW)
    slow = _general(pg, lambda s: settle_payment(s, "slow", "s", settle, now=NOW))
    assert fast is not None and fast.http_status == slow.http_status == 200
    for n, amount in enumerate(refunds):
        fast = operations.refund("fast", f"r{n}", amount, NOW)
        slow = _general(pg, lambda s, n=n, a=amount: refund_payment(s, "slow", f"r{n}", a, now=NOW))
        assert fast is not None
        assert {k: v for k, v in fast.body.items() if k not in ("paymentId", "refundId")} == {
            k: v for k, v in slow.body.items() if k not in ("paymentId", "refundId")
        }

    assert _state(pg, "fast") == _state(pg, "slow")
    assert _state(pg, "fast")["invoices"], "invoices were issued"
    assert _balance(pg, account_id)[1] == 0
    with pg.transaction() as session:
        assert find_drift(session) == []


def test_the_entrance_answers_settlements_and_refunds_and_flask_the_rest(
    pg: Database, tmp_path: Path, clock: FixedClock
) -> None:
    app = make_app(pg, tmp_path / "instance", clock)
    reached_flask: list[str] = []
    app.before_request(lambda: reached_flask.append(request.path) and None)
    try:
        _account(pg)
        client = app.test_client()
        assert client.post("/payments", json=payment_body("p1", "30.00"), headers=HEADERS).json
        settled = client.post(
            "/payments/p1/settlements", json={"requestId": "s1", "value": "30.00"}, headers=HEADERS
        )
        assert settled.status_code == 200 and settled.json is not None
        assert settled.json["code"] == "settled" and settled.json["value"] == 30
        refunded = client.post(
            "/payments/p1/refunds", json={"requestId": "r1", "value": "10.00"}, headers=HEADERS
        )
        assert refunded.status_code == 200 and refunded.json is not None
        assert refunded.json["code"] == "refunded" and refunded.json["value"] == 10
        assert reached_flask == []

        # A repeat replays the stored answer, through the route.
        again = client.post("/payments/p1/refunds", json={"requestId": "r1"}, headers=HEADERS)
        assert again.json == refunded.json
        # A refund beyond what was settled is refused by the route, in its words.
        too_much = client.post(
            "/payments/p1/refunds", json={"requestId": "r2", "value": "25.00"}, headers=HEADERS
        )
        assert too_much.status_code == 501 and too_much.json is not None
        assert "exceeds the 20.00 settled and not yet refunded" in too_much.json["message"]
        wrong = {**HEADERS, "X-VTEX-API-AppToken": "not-the-token"}
        refused = client.post("/payments/p1/refunds", json={"requestId": "r3"}, headers=wrong)
        assert refused.status_code == 401
        assert reached_flask == ["/payments/p1/refunds"] * 3
    finally:
        of(app).db.dispose()
    with pg.transaction() as session:
        assert find_drift(session) == []


def _nothing_written(db: Database, payment_id: str) -> None:
    with db.transaction() as session:
        assert session.scalars(select(PaymentOperation)).all() == []
        assert session.scalars(select(Invoice)).all() == []
        payment = session.get(Payment, payment_id)
        assert payment is not None and payment.updated_at == NOW


def test_declines_what_the_general_path_decides(
    pg: Database, express: tuple[ExpressAuthorizer, ExpressOperations]
) -> None:
    authorizer, operations = express
    _account(pg)
    _approve(authorizer, "p1", 30_000)
    assert operations.settle("p1", "s", 30_001, NOW) is None  # growth: under the lock
    assert operations.settle("nobody", "s", None, NOW) is None
    assert operations.refund("p1", "r", 100, NOW) is None  # not settled yet
    _nothing_written(pg, "p1")
    _general(pg, lambda s: cancel_payment(s, "p1", "c", now=NOW))
    assert operations.settle("p1", "s", None, NOW) is None  # cancelled


def test_a_refund_reaching_paid_invoices_goes_to_the_general_path(
    pg: Database, express: tuple[ExpressAuthorizer, ExpressOperations]
) -> None:
    authorizer, operations = express
    _account(pg)
    _approve(authorizer, "p1", 30_000)
    assert operations.settle("p1", "s", None, NOW) is not None
    with pg.transaction() as session:
        last = session.scalars(select(Invoice).order_by(Invoice.id.desc())).first()
        assert last is not None
        pay_invoice(session, last.id, now=NOW)
    # 5,000 would have to come off the paid invoice: the general path weighs what was paid.
    assert operations.refund("p1", "r", 25_000, NOW) is None
    assert operations.refund("p1", "r", 15_000, NOW) is not None  # the two open ones absorb it


def test_a_settings_change_or_a_revoked_key_stops_the_write(
    pg: Database, express: tuple[ExpressAuthorizer, ExpressOperations]
) -> None:
    authorizer, operations = express
    _account(pg)
    _approve(authorizer, "p1", 30_000)
    with pg.transaction() as session:
        key = create_key(session, role="gateway")
    issued = IssuedKey(key.app_key, hash_token(key.app_token))
    with pg.transaction() as session:
        revoke_key(session, key.app_key)
    assert operations.settle("p1", "s", None, NOW, issued) is None
    _nothing_written(pg, "p1")
    # Settings changed after this worker read them: the due dates follow the new ones
    # (noon UTC is already the next day in Kiritimati).
    with pg.transaction() as session:
        before = load_store_settings(session).due_dates(NOW, [30, 60, 90])
        update_store_settings(session, {"time_zone": "Pacific/Kiritimati"})
    with pg.transaction() as session:
        after = load_store_settings(session).due_dates(NOW, [30, 60, 90])
    assert after != before
    assert operations.settle("p1", "s", None, NOW) is not None
    with pg.transaction() as session:
        assert sorted(i.due_date for i in session.scalars(select(Invoice))) == after


def test_a_purchase_changed_after_the_read_leaves_nothing_half_done(
    pg: Database,
    express: tuple[ExpressAuthorizer, ExpressOperations],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The payment still allows the settlement, but its reservation was released between
    the read and the write: the account was locked and changed by the statement, so it
    must roll back whole (no account moved, no operation recorded). A second purchase
    keeps the account's figures such that no constraint would catch a half-done write."""
    authorizer, operations = express
    account_id = _account(pg)
    _approve(authorizer, "p1", 30_000)
    _approve(authorizer, "p2", 30_000)
    planned = ExpressOperations._plan_settle

    def plan_then_release(self: ExpressOperations, *args: Any) -> Any:
        result = planned(self, *args)
        with pg.transaction() as session:
            payment = session.get(Payment, "p1")
            assert payment is not None and payment.reservation_id is not None
            release_reservation(session, payment.reservation_id, now=NOW)
        return result

    monkeypatch.setattr(ExpressOperations, "_plan_settle", plan_then_release)
    assert operations.settle("p1", "s", None, NOW) is None
    _nothing_written(pg, "p1")
    assert _balance(pg, account_id) == (0, 30_000)  # only the release moved it
    with pg.transaction() as session:
        assert find_drift(session) == []


def test_concurrent_refunds_never_give_back_more_than_was_settled(
    pg: Database, express: tuple[ExpressAuthorizer, ExpressOperations]
) -> None:
    authorizer, operations = express
    account_id = _account(pg)
    _approve(authorizer, "p1", 30_000)
    assert operations.settle("p1", "s", None, NOW) is not None

    def refund(n: int) -> int:
        answer = operations.refund("p1", f"r{n}", 1_000, NOW)
        if answer is None:  # declined: the general path decides, as the route would
            try:
                answer = _general(pg, lambda s: refund_payment(s, "p1", f"r{n}", 1_000, now=NOW))
            except Refused:
                return 0
        return 1_000

    with ThreadPoolExecutor(8) as pool:
        refunded = sum(pool.map(refund, range(40)))
    assert refunded == 30_000
    with pg.transaction() as session:
        reservation = session.scalars(select(Reservation)).one()
        assert reservation.refunded_cents == 30_000
        assert find_drift(session) == []
    assert _balance(pg, account_id) == (0, 0)


def test_a_settings_change_after_the_read_stops_the_write(
    pg: Database,
    express: tuple[ExpressAuthorizer, ExpressOperations],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The due dates were computed by settings that changed before the write: nothing is
    written, and the general path invoices by the new ones."""
    authorizer, operations = express
    _account(pg)
    _approve(authorizer, "p1", 30_000)
    planned = ExpressOperations._plan_settle

    def plan_then_change(self: ExpressOperations, *args: Any) -> Any:
        result = planned(self, *args)
        with pg.transaction() as session:
            update_store_settings(session, {"time_zone": "Pacific/Kiritimati"})
        return result

    monkeypatch.setattr(ExpressOperations, "_plan_settle", plan_then_change)
    assert operations.settle("p1", "s", None, NOW) is None
    _nothing_written(pg, "p1")
