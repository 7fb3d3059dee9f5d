"""Overdue blocking on both authorization paths: an account with an invoice overdue longer
than the store's grace is denied with ``overdue_invoices``, and its conditions say so."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.clock import FixedClock
from connector.context import of
from connector.credit.accounts import open_account
from connector.credit.invoices import pay_invoice
from connector.credit.models import Account, Reservation
from connector.credit.reservations import reserve
from connector.credit.settlements import settle_reservation
from connector.db import Database
from connector.errors import Code
from tests.conftest import make_app
from tests.factories import ADMIN_KEY, ADMIN_TOKEN, NOW, payment_body

HEADERS = {"X-VTEX-API-AppKey": ADMIN_KEY, "X-VTEX-API-AppToken": ADMIN_TOKEN}
# Settled on 2026-01-21 with 30 days: due Friday 2026-02-20, ten days overdue at NOW
# (Monday 2026-03-02 in São Paulo).
SETTLED = NOW - timedelta(days=40)
DAYS_OVERDUE = 10


def _late_buyer(db: Database) -> tuple[str, str]:
    """An account whose one invoice is ten days overdue at NOW: (account, invoice)."""
    with db.transaction() as session:
        account = open_account(
            session, email="buyer@example.com", credit_limit_cents=1_000_000, now=SETTLED
        )
        held = reserve(session, account.id, 10_000, now=SETTLED)
        [invoice] = settle_reservation(session, held.id, now=SETTLED).invoices
        assert invoice.due_date == date(2026, 2, 20)
        return account.id, invoice.id


def _reserved(db: Database, account_id: str) -> int:
    with db.transaction() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account.reserved_cents


def _buy(client: FlaskClient, payment_id: str) -> dict[str, object]:
    response = client.post("/payments", json=payment_body(payment_id), headers=HEADERS)
    assert response.status_code == 200 and response.json is not None
    return response.json


@pytest.fixture
def at_now(clock: FixedClock) -> FixedClock:
    clock.moment = NOW
    return clock


def _blocking_rule(
    db: Database, client: FlaskClient, store: Callable[..., None], account_id: str, invoice: str
) -> None:
    """What both paths must answer, whichever one approves."""
    store(block_purchases_when_overdue=False)
    assert _buy(client, "p-off")["status"] == "approved"  # the store does not block
    store(block_purchases_when_overdue=True, overdue_grace_days=DAYS_OVERDUE)
    assert _buy(client, "p-grace")["status"] == "approved"  # overdue 10 days, grace 10
    held = _reserved(db, account_id)
    store(block_purchases_when_overdue=True, overdue_grace_days=DAYS_OVERDUE - 1)
    denied = _buy(client, "p-late")
    assert (denied["status"], denied["code"]) == ("denied", Code.OVERDUE_INVOICES)
    assert "overdue for more than 9 day(s)" in str(denied["message"])
    assert _reserved(db, account_id) == held  # nothing was held
    conditions = client.get(
        "/api/creditcontrol/purchase-conditions?email=buyer@example.com", headers=HEADERS
    ).json
    assert conditions is not None
    assert (conditions["deniedBecause"], conditions["maxPurchaseValue"]) == (
        "overdue_invoices",
        0,
    )
    with db.transaction() as session:
        pay_invoice(session, invoice, now=NOW)
    assert _buy(client, "p-paid")["status"] == "approved"
    assert (
        client.get(
            "/api/creditcontrol/purchase-conditions?email=buyer@example.com", headers=HEADERS
        ).json["deniedBecause"]
        is None
    )  # type: ignore[index]


def test_the_general_path_denies_accounts_late_paying(
    db: Database, tmp_path: Path, at_now: FixedClock, store: Callable[..., None]
) -> None:
    account_id, invoice = _late_buyer(db)
    app = make_app(db, tmp_path / "instance", at_now, express_authorization=False)
    try:
        _blocking_rule(db, app.test_client(), store, account_id, invoice)
    finally:
        of(app).db.dispose()


@pytest.fixture
def pg_app(pg: Database, tmp_path: Path, at_now: FixedClock) -> Iterator[Flask]:
    app = make_app(pg, tmp_path / "instance", at_now)
    assert "express" in of(app).extras
    yield app
    of(app).db.dispose()


def test_the_express_path_denies_them_too(pg: Database, pg_app: Flask, at_now: FixedClock) -> None:
    account_id, invoice = _late_buyer(pg)

    def store(**changes: object) -> None:
        from tests import factories

        with pg.transaction() as session:
            factories.settings(session, **changes)

    express = of(pg_app).extras["express"]
    _blocking_rule(pg, pg_app.test_client(), store, account_id, invoice)
    # The approvals came from the express statement, the denial from the general path
    # after the statement wrote nothing.
    from connector.payments.authorization import PaymentRequest

    store(block_purchases_when_overdue=True, overdue_grace_days=0)
    with pg.transaction() as session:
        late = reserve(session, account_id, 100, now=SETTLED)
        settle_reservation(session, late.id, now=SETTLED)
        before = session.scalar(select(Reservation.id).order_by(Reservation.created_at.desc()))
    request = PaymentRequest(
        payment_id="direct",
        value_cents=100,
        currency="BRL",
        installments=1,
        buyer_email="buyer@example.com",
        gateway_transaction_id="tx-direct",
        order_id="order-direct",
        payment_method="Promissories",
    )
    assert express.authorize(request, NOW) is None
    with pg.transaction() as session:
        newest = session.scalar(select(Reservation.id).order_by(Reservation.created_at.desc()))
    assert newest == before
    store(block_purchases_when_overdue=False)
    assert express.authorize(request, NOW) is not None
