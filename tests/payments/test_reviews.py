"""Over-limit review: undefined while staff decide, then the durable callback."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import responses

from connector.clock import utcnow
from connector.config import load_settings
from connector.credit.check import find_drift
from connector.credit.models import Account
from connector.db import Database
from connector.errors import Conflict
from connector.payments.callbacks import deliver_due_callbacks
from connector.payments.reviews import approve_review, deny_review, list_reviews
from tests.conftest import Post
from tests.factories import payment_body

CALLBACK = "https://gateway.example.com/callback/big"


@pytest.fixture(autouse=True)
def _review_on(store: Callable[..., None], buyer_account: str) -> None:
    store(over_limit_review_enabled=True)


def deliver(db: Database, tmp_path: Path) -> list[dict[str, object]]:
    settings = load_settings({"DATABASE_URL": db.url, "CONNECTOR_INSTANCE_PATH": str(tmp_path)})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(CALLBACK, status=200)
        deliver_due_callbacks(db, settings, now=utcnow() + timedelta(seconds=1))
        return [json.loads(call.request.body) for call in mock.calls]


def held(db: Database, account_id: str) -> int:
    with db.transaction() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account.reserved_cents


def test_a_purchase_above_the_credit_waits_for_review(
    post: Post, db: Database, buyer_account: str, tmp_path: Path
) -> None:
    body = payment_body("big", "1500.00")
    first = post("/payments", body).json
    assert first is not None
    assert first["status"] == "undefined" and first["code"] == "under_review"
    assert post("/payments", body).json == first
    assert post("/payments", payment_body("small", "10")).json["status"] == "approved"  # type: ignore[index]
    with db.transaction() as session:
        [review] = list_reviews(session)
        assert (review.payment_id, review.value_cents) == ("big", 150_000)
        assert review.spending_power_cents == 100_000  # when the purchase was made
        approve_review(session, review.id, done_by="staff@store.com", note="known customer")
    assert held(db, buyer_account) == 151_000  # above the 1,000.00 limit, by decision
    [sent] = deliver(db, tmp_path)
    assert sent["status"] == "approved" and sent["authorizationId"]
    assert post("/payments", body).json == sent
    with db.transaction() as session:
        assert find_drift(session) == []
        assert list_reviews(session) == []
        with pytest.raises(Conflict):
            approve_review(session, list_reviews(session, None)[0].id)


def test_a_denied_review_reserves_nothing(
    post: Post, db: Database, buyer_account: str, tmp_path: Path
) -> None:
    post("/payments", payment_body("big", "1500.00"))
    with db.transaction() as session:
        [review] = list_reviews(session)
        deny_review(session, review.id, done_by="staff@store.com")
    [sent] = deliver(db, tmp_path)
    assert sent["status"] == "denied" and sent["code"] == "review_denied"
    assert held(db, buyer_account) == 0


def test_a_cancelled_payment_closes_its_review(
    post: Post, db: Database, buyer_account: str, tmp_path: Path
) -> None:
    post("/payments", payment_body("big", "1500.00"))
    response = post("/payments/big/cancellations", {"requestId": "c1"})
    assert response.status_code == 200
    with db.transaction() as session:
        assert list_reviews(session) == []
        [review] = list_reviews(session, "cancelled")
        with pytest.raises(Conflict):
            approve_review(session, review.id)
    assert deliver(db, tmp_path) == []
    assert held(db, buyer_account) == 0
