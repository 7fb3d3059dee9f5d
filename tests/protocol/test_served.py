"""The protocol against a real ``connector serve``: worker processes, real HTTP, the scheduler."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from connector.access.keys import create_key, revoke_key
from connector.credit.accounts import open_account
from connector.credit.check import find_drift
from connector.credit.models import Account, Reservation
from connector.db import Database
from tests.factories import NOW, TESTSUITE, card_body, payment_body
from tests.protocol.test_testsuite_and_callbacks import receiver  # noqa: F401 (fixture)
from tests.server import Server, environment

pytestmark = pytest.mark.slow

HEADERS = {"X-VTEX-API-AppKey": "gateway", "X-VTEX-API-AppToken": "gateway-token-0123456789"}


@pytest.fixture
def served(db: Database, tmp_path: Path) -> Iterator[Server]:
    env = environment(
        db,
        tmp_path,
        CONNECTOR_APP_KEY=HEADERS["X-VTEX-API-AppKey"],
        CONNECTOR_APP_TOKEN=HEADERS["X-VTEX-API-AppToken"],
        CONNECTOR_WORKERS="4",
    )
    server = Server(env, tmp_path / "serve.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def post(server: Server, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    response = requests.post(
        server.base + path, json=body, headers={**HEADERS, **(headers or {})}, timeout=10
    )
    return response.status_code, response.json()


def test_concurrent_repeats_reserve_once_and_the_limit_holds(served: Server, db: Database) -> None:
    with db.transaction() as session:
        account_id = open_account(
            session, email="buyer@example.com", credit_limit_cents=100_000, now=NOW
        ).id
    with ThreadPoolExecutor(max_workers=20) as pool:
        repeats = list(
            pool.map(lambda _i: post(served, "/payments", payment_body("same")), range(20))
        )
    assert {status for status, _ in repeats} == {200}
    assert all(body == repeats[0][1] for _, body in repeats)
    assert repeats[0][1]["status"] == "approved"
    with ThreadPoolExecutor(max_workers=20) as pool:
        distinct = list(
            pool.map(
                lambda i: post(served, "/payments", payment_body(f"d{i}", "100.00")), range(20)
            )
        )
    approved = [b for s, b in distinct if b["status"] == "approved"]
    assert len(approved) == 9  # 100.00 was already taken by "same"
    assert {b["code"] for _, b in distinct if b["status"] == "denied"} == {"insufficient_credit"}
    with db.transaction() as session:
        assert len(session.scalars(select(Reservation)).all()) == 10
        account = session.get(Account, account_id)
        assert account is not None and account.reserved_cents == 100_000
        assert find_drift(session) == []


def test_flows_and_an_async_callback_from_the_scheduler(
    served: Server,
    db: Database,
    receiver: tuple[str, list[bytes]],  # noqa: F811
) -> None:
    with db.transaction() as session:
        open_account(session, email="buyer@example.com", credit_limit_cents=100_000, now=NOW)
    status, created = post(served, "/payments", payment_body("p1", "300", installments=3))
    assert status == 200 and created["status"] == "approved"
    status, settled = post(served, "/payments/p1/settlements", {"requestId": "s1", "value": 300})
    assert status == 200 and settled["value"] == 300
    status, refunded = post(served, "/payments/p1/refunds", {"requestId": "f1", "value": "50"})
    assert status == 200 and refunded["value"] == 50
    status, cancelled = post(served, "/payments/p1/cancellations", {"requestId": "c1"})
    assert status == 200 and cancelled["cancellationId"]

    base, hits = receiver
    body = card_body("async", "4222222222222224", callbackUrl=f"{base}/callback?sig=x")
    status, first = post(served, "/payments", body, TESTSUITE)
    assert status == 200 and first["status"] == "undefined"
    started = time.monotonic()
    while not hits and time.monotonic() - started < 15:
        time.sleep(0.2)
    assert hits, f"no callback within 15 s:\n{served.output()}"
    sent = json.loads(hits[0])
    assert sent["status"] == "approved" and sent["paymentId"] == "async"
    status, again = post(served, "/payments", body, TESTSUITE)
    assert again == sent


def test_changes_count_at_once_in_every_worker(served: Server, db: Database) -> None:
    """A settings change and a key revocation decide the very next request, whichever
    worker process answers it (each worker used to remember them for a while)."""
    config = served.base + "/api/creditcontrol/storeconfig"
    with db.transaction() as session:
        issued = create_key(session, role="read")
    key = {"X-VTEX-API-AppKey": issued.app_key, "X-VTEX-API-AppToken": issued.app_token}
    for _ in range(20):  # every worker has read the settings and used the key
        answer = requests.get(config, headers=key, timeout=10)
        assert answer.status_code == 200 and answer.json()["postponementEnabled"] is False
    changed = requests.put(config, json={"postponementEnabled": True}, headers=HEADERS, timeout=10)
    assert changed.status_code == 200
    with db.transaction() as session:
        revoke_key(session, issued.app_key)
    for _ in range(20):
        assert requests.get(config, headers=HEADERS, timeout=10).json()["postponementEnabled"]
        assert requests.get(config, headers=key, timeout=10).status_code == 401
