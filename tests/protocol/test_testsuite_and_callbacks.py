"""Homologation mode, async answers and their durable callbacks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask
from sqlalchemy import func, select

from connector import create_app
from connector.clock import utcnow
from connector.config import load_settings
from connector.context import of
from connector.credit.models import Account, Reservation
from connector.db import Database
from connector.payments.callbacks import LIFETIME, deliver_due_callbacks
from connector.payments.models import PaymentCallback
from tests.conftest import Post
from tests.factories import TESTSUITE, card_body, payment_body

APPROVE, DENY = "4444333322221111", "4444333322221112"
ASYNC_APPROVE, ASYNC_DENY = "4222222222222224", "4222222222222225"


def settings_for(db: Database, tmp_path: Path, **env: str) -> Any:
    return load_settings({"DATABASE_URL": db.url, "CONNECTOR_INSTANCE_PATH": str(tmp_path), **env})


def callback(db: Database, payment_id: str) -> PaymentCallback:
    with db.transaction() as session:
        found = session.scalar(
            select(PaymentCallback).where(PaymentCallback.payment_id == payment_id)
        )
        assert found is not None
        return found


def no_credit_touched(db: Database) -> None:
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Reservation)) == 0
        assert session.scalar(select(func.count()).select_from(Account)) == 0


def op(post: Post, payment_id: str, kind: str, request_id: str, value: Any = None) -> Any:
    body = {"paymentId": payment_id, "requestId": request_id, "value": value}
    response = post(f"/payments/{payment_id}/{kind}", body, TESTSUITE)
    return response.status_code, response.json


def test_approved_case_create_settle_refund(post: Post, db: Database) -> None:
    created = post("/payments", card_body("t1", APPROVE), TESTSUITE).json
    assert created is not None
    assert created["status"] == "approved" and created["authorizationId"]
    status, settled = op(post, "t1", "settlements", "s1", "100")
    assert status == 200 and settled["settleId"] and settled["value"] == 100
    status, refunded = op(post, "t1", "refunds", "f1", "100")
    assert status == 200 and refunded["refundId"] and refunded["value"] == 100
    no_credit_touched(db)


def test_denied_and_cancellation_cases(post: Post, db: Database) -> None:
    denied = post("/payments", card_body("t2", DENY), TESTSUITE).json
    assert denied is not None and denied["status"] == "denied" and denied["authorizationId"] is None
    created = post("/payments", card_body("t3", APPROVE), TESTSUITE).json
    assert created is not None and created["status"] == "approved"
    status, cancelled = op(post, "t3", "cancellations", "c1")
    assert status == 200 and cancelled["cancellationId"]
    unknown = post("/payments", card_body("t4", "4111111111111111"), TESTSUITE).json
    assert unknown is not None and unknown["status"] == "denied"
    no_credit_touched(db)


@pytest.mark.parametrize(("card", "final"), [(ASYNC_APPROVE, "approved"), (ASYNC_DENY, "denied")])
def test_async_cases_call_back_with_the_final_state(
    post: Post, db: Database, tmp_path: Path, card: str, final: str
) -> None:
    body = card_body("t5", card)
    first = post("/payments", body, TESTSUITE).json
    assert first is not None and first["status"] == "undefined"
    assert post("/payments", body, TESTSUITE).json == first  # still undefined until decided
    settings = settings_for(
        db, tmp_path, CONNECTOR_CALLBACK_APP_KEY="provider", CONNECTOR_CALLBACK_APP_TOKEN="p" * 20
    )
    with responses.RequestsMock() as mock:
        mock.post("https://gateway.example.com/callback/t5", status=200)
        # Not due yet at the create: the callback leaves a second later.
        assert deliver_due_callbacks(db, settings, now=utcnow() - timedelta(seconds=5)) == 0
        assert deliver_due_callbacks(db, settings, now=utcnow() + timedelta(seconds=2)) == 1
        [call] = mock.calls
    # Called verbatim, signature included, with the provider's credentials.
    assert call.request.url == body["callbackUrl"]
    assert call.request.headers["X-VTEX-API-AppKey"] == "provider"
    assert call.request.headers["X-VTEX-API-AppToken"] == "p" * 20
    sent = json.loads(call.request.body)
    assert sent["status"] == final and sent["paymentId"] == "t5"
    assert (sent["tid"], sent["nsu"]) == (first["tid"], first["nsu"])
    assert (sent["authorizationId"] is not None) == (final == "approved")
    # Every later create answers the final state, the same one the gateway was sent.
    assert post("/payments", body, TESTSUITE).json == sent
    assert callback(db, "t5").status == "delivered"
    no_credit_touched(db)


def test_empty_credentials_only_when_allowed(db: Database, tmp_path: Path, app: Flask) -> None:
    body = card_body("t6", APPROVE)
    refused = app.test_client().post("/payments", json=body, headers=TESTSUITE)
    assert refused.status_code == 401
    allowing = create_app(
        {
            "database_url": db.url,
            "instance_path": tmp_path / "i2",
            "secret_key": "s" * 40,
            "allow_testsuite_without_credentials": True,
        }
    )
    try:
        client = allowing.test_client()
        accepted = client.post("/payments", json=body, headers=TESTSUITE)
        assert accepted.status_code == 200 and accepted.json["status"] == "approved"  # type: ignore[index]
        live = client.post("/payments", json=payment_body("t7"))  # not test traffic: refused
        assert live.status_code == 401
    finally:
        of(allowing).db.dispose()


def test_test_cards_without_the_header_are_live_traffic(post: Post, db: Database) -> None:
    answer = post("/payments", card_body("t8", APPROVE)).json
    assert answer is not None and answer["status"] == "denied"


def test_failed_callbacks_back_off_then_expire(post: Post, db: Database, tmp_path: Path) -> None:
    post("/payments", card_body("t9", ASYNC_APPROVE), TESTSUITE)
    settings = settings_for(db, tmp_path)
    start = utcnow() + timedelta(seconds=2)
    with responses.RequestsMock() as mock:
        mock.post("https://gateway.example.com/callback/t9", status=503)
        assert deliver_due_callbacks(db, settings, now=start) == 0
        pending = callback(db, "t9")
        assert pending.status == "pending" and pending.attempts == 1
        assert pending.next_attempt_at == start + timedelta(seconds=5)
        assert "HTTP 503" in (pending.last_error or "")
        assert deliver_due_callbacks(db, settings, now=start + timedelta(seconds=4)) == 0
        assert len(mock.calls) == 1  # not retried before its time
        assert deliver_due_callbacks(db, settings, now=start + timedelta(seconds=5)) == 0
        assert callback(db, "t9").next_attempt_at == start + timedelta(seconds=15)
        late = start + LIFETIME + timedelta(seconds=1)
        assert deliver_due_callbacks(db, settings, now=late) == 0
    assert callback(db, "t9").status == "expired"
    # The payment's final state was stored before the first attempt.
    final = post("/payments", card_body("t9", ASYNC_APPROVE), TESTSUITE).json
    assert final is not None and final["status"] == "approved"


def test_cancelling_an_undefined_payment_withdraws_its_callback(
    post: Post, db: Database, tmp_path: Path
) -> None:
    post("/payments", card_body("t10", ASYNC_APPROVE), TESTSUITE)
    status, _ = op(post, "t10", "cancellations", "c1")
    assert status == 200
    with responses.RequestsMock():  # any call would fail the test
        assert (
            deliver_due_callbacks(
                db, settings_for(db, tmp_path), now=utcnow() + timedelta(seconds=5)
            )
            == 0
        )
    assert callback(db, "t10").status == "cancelled"
    answer = post("/payments", card_body("t10", ASYNC_APPROVE), TESTSUITE).json
    assert answer is not None and answer["status"] == "denied"
    assert answer["code"] == "payment_cancelled"


class _Receiver(BaseHTTPRequestHandler):
    hits: list[bytes] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            self.hits.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    """A real HTTP server on a local port that records what it receives."""
    _Receiver.hits = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Receiver.hits
    server.shutdown()


def test_two_schedulers_deliver_a_callback_once(
    post: Post, db: Database, tmp_path: Path, receiver: tuple[str, list[bytes]]
) -> None:
    base, hits = receiver
    for n in range(10):
        post(
            "/payments", card_body(f"r{n}", ASYNC_APPROVE, callbackUrl=f"{base}/cb/{n}"), TESTSUITE
        )
    settings = settings_for(db, tmp_path)
    later = utcnow() + timedelta(seconds=3)
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def scheduler() -> None:
        barrier.wait()
        counts.append(deliver_due_callbacks(db, settings, now=later))

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 10
    assert sorted(json.loads(h)["paymentId"] for h in hits) == sorted(f"r{n}" for n in range(10))
