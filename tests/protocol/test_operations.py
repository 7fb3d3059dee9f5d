"""Settlements, cancellations and refunds: replayed by requestId, never over-spending."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from connector.clock import utcnow
from connector.credit.check import find_drift
from connector.credit.models import Account, Invoice, Reservation
from connector.db import Database
from connector.jobs.settlement import settle_due_reservations
from connector.protocol.express_operations import ExpressOperations
from tests.conftest import Post
from tests.factories import payment_body


@pytest.fixture(autouse=True)
def _ledger_stays_consistent(db: Database) -> Any:
    yield
    with db.transaction() as session:
        assert find_drift(session) == []


def figures(db: Database, account_id: str) -> tuple[int, int]:
    """(reserved, balance) of an account, in cents."""
    with db.transaction() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account.reserved_cents, account.balance_cents


def invoice_values(db: Database) -> list[tuple[int, str]]:
    with db.transaction() as session:
        rows = session.scalars(select(Invoice).order_by(Invoice.id)).all()
        return [(i.value_cents, i.status) for i in rows]


@pytest.fixture
def approved(post: Post, buyer_account: str) -> Callable[..., str]:
    """Create an approved payment and return its id."""

    def create(payment_id: str = "p1", value: str = "300.00", installments: int = 3) -> str:
        answer = post("/payments", payment_body(payment_id, value, installments=installments)).json
        assert answer is not None and answer["status"] == "approved"
        return payment_id

    return create


def op(post: Post, payment_id: str, kind: str, request_id: str, value: Any = None) -> Any:
    body: dict[str, Any] = {
        "paymentId": payment_id,
        "requestId": request_id,
        "transactionId": f"tx-{payment_id}",
    }
    if value is not None:
        body["value"] = value
    response = post(f"/payments/{payment_id}/{kind}", body)
    return response.status_code, response.json


def test_full_settlement_issues_invoices(
    post: Post, db: Database, buyer_account: str, approved: Callable[..., str]
) -> None:
    approved()
    status, answer = op(post, "p1", "settlements", "r1", "300.00")
    assert status == 200
    assert answer["settleId"] and answer["value"] == 300 and answer["requestId"] == "r1"
    assert answer["paymentId"] == "p1"
    assert invoice_values(db) == [(10_000, "Opened")] * 3
    assert figures(db, buyer_account) == (0, -30_000)
    # The same requestId replays the stored answer and does nothing more.
    assert op(post, "p1", "settlements", "r1", "300.00") == (status, answer)
    assert figures(db, buyer_account) == (0, -30_000)


def test_partial_settlement_releases_the_rest(
    post: Post, db: Database, buyer_account: str, approved: Callable[..., str]
) -> None:
    approved()
    status, answer = op(post, "p1", "settlements", "r1", "120,00")
    assert status == 200 and answer["value"] == 120
    assert figures(db, buyer_account) == (0, -12_000)
    # A later settlement with a new requestId is an order change: lower, then higher.
    status, lower = op(post, "p1", "settlements", "r2", "100")
    assert status == 200 and lower["value"] == 100 and lower["settleId"] != answer["settleId"]
    assert figures(db, buyer_account) == (0, -10_000)
    status, higher = op(post, "p1", "settlements", "r3", "130")
    assert status == 200 and higher["value"] == 130
    assert figures(db, buyer_account) == (0, -13_000)
    status, refused = op(post, "p1", "settlements", "r4", "400")  # beyond the 10 % growth
    assert status == 500  # the document's failure: a later retry may find more credit
    assert refused == {
        "paymentId": "p1",
        "settleId": None,
        "value": 0,
        "code": "growth_limit_exceeded",
        "message": refused["message"],
        "requestId": "r4",
    }
    assert figures(db, buyer_account) == (0, -13_000)


def test_settle_without_value_settles_everything(
    post: Post, db: Database, buyer_account: str, approved: Callable[..., str]
) -> None:
    approved(value="99.99", installments=1)
    status, answer = op(post, "p1", "settlements", "r1")
    assert status == 200 and str(answer["value"]) == "99.99"
    assert figures(db, buyer_account) == (0, -9_999)


def test_cancel_releases_the_reservation(
    post: Post, db: Database, buyer_account: str, approved: Callable[..., str]
) -> None:
    approved()
    status, answer = op(post, "p1", "cancellations", "c1")
    assert status == 200 and answer["cancellationId"] and answer["requestId"] == "c1"
    assert figures(db, buyer_account) == (0, 0)
    assert op(post, "p1", "cancellations", "c1") == (status, answer)
    status, again = op(post, "p1", "cancellations", "c2")  # a new requestId: nothing to do
    assert status == 200 and again["cancellationId"] != answer["cancellationId"]
    status, refused = op(post, "p1", "settlements", "s1", "10")
    assert status == 500 and refused["code"] == "payment_cancelled"
    assert refused["settleId"] is None and refused["value"] == 0


def test_cancel_after_settle_gives_all_credit_back(
    post: Post, db: Database, buyer_account: str, approved: Callable[..., str]
) -> None:
    approved()
    op(post, "p1", "settlements", "s1", "300")
    op(post, "p1", "refunds", "f1", "50")
    status, _answer = op(post, "p1", "cancellations", "c1")
    assert status == 200
    assert figures(db, buyer_account) == (0, 0)
    assert {s for _v, s in invoice_values(db)} == {"Cancelled"}
    # A cancelled order is settled no more (found by the stateful model).
    status, refused = op(post, "p1", "settlements", "s2", "310")
    assert status == 500 and refused["code"] == "payment_cancelled"
    assert figures(db, buyer_account) == (0, 0)


def test_cancel_before_create_denies_the_late_create(
    post: Post, db: Database, buyer_account: str
) -> None:
    status, answer = op(post, "p9", "cancellations", "c1")
    assert status == 200 and answer["cancellationId"]
    late = post("/payments", payment_body("p9")).json
    assert late is not None
    assert late["status"] == "denied" and late["code"] == "payment_cancelled"
    with db.transaction() as session:
        assert session.scalars(select(Reservation)).all() == []
    assert figures(db, buyer_account) == (0, 0)


def test_refunds_are_partial_repeatable_and_bounded(
    post: Post, db: Database, buyer_account: str, approved: Callable[..., str]
) -> None:
    approved()
    op(post, "p1", "settlements", "s1", "300")
    first = op(post, "p1", "refunds", "f1", "100")
    second = op(post, "p1", "refunds", "f2", "100")  # same value, new requestId: a second refund
    assert first[0] == second[0] == 200
    assert first[1]["refundId"] != second[1]["refundId"]
    assert first[1]["value"] == second[1]["value"] == 100
    assert op(post, "p1", "refunds", "f1", "100") == first  # replay, no third refund
    assert figures(db, buyer_account) == (0, -10_000)
    status, refused = op(post, "p1", "refunds", "f3", "100.01")
    assert status == 501  # no retry cures it: the gateway has it refunded by hand
    assert refused == {
        "paymentId": "p1",
        "refundId": None,
        "value": 0,
        "code": "refund-manually",
        "message": refused["message"],
        "requestId": "f3",
    }
    assert refused["message"].endswith("(refund_exceeds_settled)")
    assert op(post, "p1", "refunds", "f4", "100")[0] == 200
    assert figures(db, buyer_account) == (0, 0)


def test_refund_of_an_unsettled_payment_is_refused(
    post: Post, db: Database, buyer_account: str, approved: Callable[..., str]
) -> None:
    approved()
    status, refused = op(post, "p1", "refunds", "f1", "10")
    # A retry cures it once the settlement is done: 500, so the gateway retries.
    assert status == 500 and refused["code"] == "not_settled" and refused["refundId"] is None
    assert figures(db, buyer_account) == (30_000, 0)


def test_operations_on_unknown_or_denied_payments(
    post: Post, db: Database, buyer_account: str
) -> None:
    status, refused = op(post, "nope", "settlements", "r1", "10")
    assert status == 500
    assert refused == {
        "paymentId": "nope",
        "settleId": None,
        "value": 0,
        "code": "payment_not_found",
        "message": "payment nope not found",
        "requestId": "r1",
    }
    status, refused = op(post, "nope", "refunds", "r1", "10")
    assert status == 501 and refused["code"] == "refund-manually"
    assert refused["refundId"] is None and refused["value"] == 0
    denied = post("/payments", payment_body("p2", "5000")).json
    assert denied is not None and denied["status"] == "denied"
    status, refused = op(post, "p2", "settlements", "s1", "10")
    assert status == 500 and refused["code"] == "payment_denied"
    status, refused = op(post, "p2", "refunds", "f1", "10")
    assert status == 501 and refused["code"] == "refund-manually"
    assert refused["message"].endswith("(payment_denied)")


def test_a_request_id_reused_with_another_value_is_a_conflict(
    post: Post, db: Database, buyer_account: str, approved: Callable[..., str]
) -> None:
    approved()
    settled = op(post, "p1", "settlements", "s1", "200")
    assert settled[0] == 200
    refunded = op(post, "p1", "refunds", "f1", "50")
    assert refunded[0] == 200
    for kind, request_id, other in (("settlements", "s1", "250"), ("refunds", "f1", "60")):
        status, error = op(post, "p1", kind, request_id, other)
        assert status == 400 and error["code"] == "idempotency_conflict", error
        assert error["status"] == "error" and request_id in error["message"]
    assert figures(db, buyer_account) == (0, -15_000)  # nothing changed
    # The same request, or one without a value, replays the first answer.
    assert op(post, "p1", "settlements", "s1", "200") == settled
    assert op(post, "p1", "settlements", "s1") == settled
    assert op(post, "p1", "refunds", "f1", "50.00") == refunded
    status, error = op(post, "p1", "cancellations", "s1")  # another kind, same requestId
    assert status == 400 and error["code"] == "idempotency_conflict"


def test_a_failure_answers_the_failure_body_and_changes_nothing(
    post: Post,
    db: Database,
    buyer_account: str,
    approved: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    approved()

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the disk is gone")

    monkeypatch.setattr("connector.payments.operations.settle_reservation", broken)
    # On PostgreSQL the express path would settle it without the general path's service.
    monkeypatch.setattr(ExpressOperations, "settle", lambda *_args, **_kwargs: None)
    status, failed = op(post, "p1", "settlements", "s1", "100")
    assert status == 500
    assert failed == {
        "paymentId": "p1",
        "settleId": None,
        "value": 0,
        "code": "internal_error",
        "message": "the settle failed; retry it",
        "requestId": "s1",
    }
    assert figures(db, buyer_account) == (30_000, 0)
    monkeypatch.undo()
    status, answer = op(post, "p1", "settlements", "s1", "100")  # the retry is the first
    assert status == 200 and answer["value"] == 100


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": "10"}, "requestId"),
        ({"requestId": "r", "value": "-1"}, "value"),
        ({"requestId": "r", "paymentId": "other"}, "paymentId"),
    ],
)
def test_bad_operation_bodies(
    post: Post,
    db: Database,
    buyer_account: str,
    approved: Callable[..., str],
    body: dict[str, Any],
    field: str,
) -> None:
    approved()
    response = post("/payments/p1/settlements", body)
    assert response.status_code == 400
    assert response.json is not None and response.json["status"] == "error"
    assert field in response.json["message"]
    assert figures(db, buyer_account) == (30_000, 0)


def test_a_request_id_cannot_change_its_kind(post: Post, approved: Callable[..., str]) -> None:
    approved()
    assert op(post, "p1", "settlements", "r1", "300")[0] == 200
    status, error = op(post, "p1", "refunds", "r1", "10")
    assert status == 400 and error["code"] == "idempotency_conflict"


def test_gateway_settlement_after_auto_settle(
    post: Post, db: Database, buyer_account: str, approved: Callable[..., str]
) -> None:
    approved()
    assert settle_due_reservations(db, now=utcnow() + timedelta(days=30)) == 1
    assert figures(db, buyer_account) == (0, -30_000)
    status, answer = op(post, "p1", "settlements", "s1", "300")
    assert status == 200 and answer["value"] == 300  # answered from what was settled
    assert len(invoice_values(db)) == 3
    status, answer = op(post, "p1", "settlements", "s2", "250")  # the order shrank
    assert status == 200 and answer["value"] == 250
    assert figures(db, buyer_account) == (0, -25_000)


def test_inbound_requests_are_answered(post: Post, approved: Callable[..., str]) -> None:
    approved()
    for path in ("/payments/p1/inbound/status", "/payments/p1/inbound-request/status"):
        response = post(path, {"requestId": "i1", "paymentId": "p1"})
        assert response.status_code == 200
        body = response.json
        assert body is not None
        assert body["requestId"] == "i1" and body["paymentId"] == "p1"
        assert body["responseData"]["statusCode"] == 200
        assert '"status": "approved"' in body["responseData"]["content"]
    unknown = post("/payments/nope/inbound/status", {"requestId": "i2"})
    assert unknown.status_code == 200 and unknown.json is not None  # as the document lists
    assert unknown.json["responseData"]["statusCode"] == 404
    assert "payment_not_found" in unknown.json["responseData"]["content"]
