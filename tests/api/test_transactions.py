"""Pre-authorizations through HTTP: reserve, change, cancel, settle, refund."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from connector.clock import utcnow
from connector.credit.models import Reservation
from connector.db import Database
from connector.jobs.settlement import expire_reservations, settle_due_reservations
from tests.api.conftest import DocumentedClient, Shop


def test_reserve_as_the_public_example_does(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1)["id"]
    reserved = api.post(
        f"/accounts/{aid}/transactions", json={"value": 49.7, "settle": True, "installments": 1}
    )
    assert reserved.status_code == 200
    body = reserved.get_json()
    assert body == {"id": body["id"], "value": Decimal("49.70"), "installments": 1}
    account = api.get(f"/accounts/{aid}").get_json()
    assert (account["preAuthorizedCredit"], account["availableCredit"]) == (
        Decimal("49.70"),
        Decimal("950.30"),
    )


def test_reserve_refusals(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1, limit="100")["id"]
    path = f"/accounts/{aid}/transactions"
    short = api.post(path, json={"value": "100,01", "installments": 1})
    assert short.status_code == 422 and short.get_json()["error"]["code"] == "insufficient_credit"
    plans = api.post(path, json={"value": 10, "installments": 5})
    assert plans.status_code == 422
    assert plans.get_json()["error"]["code"] == "installments_not_allowed"
    bad = api.post(path, json={"value": -1, "installments": "x", "settle": "maybe"})
    assert set(bad.get_json()["error"]["fields"]) == {"value", "installments", "settle"}
    past = api.post(path, json={"value": 1, "settle": False, "expirationDate": "2020-01-01"})
    assert past.get_json()["error"]["fields"] == {"expirationDate": "must be in the future"}
    assert api.post("/accounts/nope/transactions", json={"value": 1}).status_code == 404
    api.delete(f"/accounts/{aid}")
    closed = api.post(path, json={"value": 1})
    assert closed.status_code == 409 and closed.get_json()["error"]["code"] == "account_closed"


def test_tolerance_headroom_when_the_store_enables_it(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1, limit="1000", tolerance="0.1")["id"]
    path = f"/accounts/{aid}/transactions"
    assert api.post(path, json={"value": 1100}).status_code == 422
    api.put("/storeconfig", json={"toleranceEnabled": True})
    assert api.post(path, json={"value": 1250}).status_code == 422
    assert api.post(path, json={"value": 1100}).status_code == 200


def test_put_creates_under_an_id_then_changes_it(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1)["id"]
    path = f"/accounts/{aid}/transactions/ORDER-1"
    created = api.put(path, json={"value": 55, "settle": True, "installments": 1})
    assert created.get_json() == {"id": "ORDER-1", "value": 55, "installments": 1}
    assert api.put(path, json={"value": 55, "settle": True, "installments": 1}).status_code == 200
    grown = api.put(path, json={"value": "60.50", "settle": True, "installments": 1})
    assert grown.get_json()["value"] == Decimal("60.50")
    assert api.get(f"/accounts/{aid}").get_json()["preAuthorizedCredit"] == Decimal("60.50")
    too_much = api.put(path, json={"value": 61, "installments": 1})  # more than 10 % growth
    assert too_much.status_code == 422
    assert too_much.get_json()["error"]["code"] == "growth_limit_exceeded"
    plans = api.put(path, json={"value": 50, "installments": 2})
    assert plans.status_code == 409 and plans.get_json()["error"]["code"] == "installments_mismatch"
    other = shop.account(2)["id"]
    taken = api.put(f"/accounts/{other}/transactions/ORDER-1", json={"value": 1})
    assert taken.status_code == 409
    bad_id = api.put(f"/accounts/{aid}/transactions/{'x' * 65}", json={"value": 1})
    assert bad_id.get_json()["error"]["fields"] == {"transactionId": "1-64 of A-Z a-z 0-9 _ . -"}
    assert api.put(f"/accounts/{aid}/transactions/ORDER-1/settlement", json={}).status_code == 200
    settled = api.put(path, json={"value": 50, "installments": 1})
    assert settled.status_code == 409


def test_cancel_releases_and_answers_without_a_body(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1)["id"]
    tid = api.post(f"/accounts/{aid}/transactions", json={"value": 100}).get_json()["id"]
    cancelled = api.delete(f"/accounts/{aid}/transactions/{tid}")
    assert cancelled.status_code == 200 and cancelled.get_data() == b""
    assert api.delete(f"/accounts/{aid}/transactions/{tid}").status_code == 200  # no-op
    assert api.get(f"/accounts/{aid}").get_json()["availableCredit"] == 1000
    assert api.put(f"/accounts/{aid}/transactions/{tid}/settlement", json={}).status_code == 409
    other = shop.account(2)["id"]
    assert api.delete(f"/accounts/{other}/transactions/{tid}").status_code == 404
    assert api.delete(f"/accounts/{aid}/transactions/nope").status_code == 404


def test_settle_partially_then_change_the_total(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1)["id"]
    tid = api.post(
        f"/accounts/{aid}/transactions", json={"value": 100, "installments": 2}
    ).get_json()["id"]
    path = f"/accounts/{aid}/transactions/{tid}/settlement"
    settled = api.put(path, json={"value": "80"}).get_json()
    assert settled == {"id": tid, "value": 80, "invoices": [f"{tid}-01", f"{tid}-02"]}
    account = api.get(f"/accounts/{aid}").get_json()
    assert (account["balance"], account["preAuthorizedCredit"], account["availableCredit"]) == (
        -80,
        0,
        920,
    )
    assert api.put(path, json={"value": 80}).get_json()["invoices"] == []  # a repeat
    lower = api.put(path, json={"value": 70}).get_json()
    assert lower == {"id": tid, "value": 70, "invoices": []}
    second = api.get(f"/accounts/{aid}/invoices/{tid}-02").get_json()
    assert (second["value"], second["creditValue"]) == (30, 10)
    assert api.put(path, json={"value": 77}).get_json()["invoices"] == [f"{tid}-03", f"{tid}-04"]
    assert api.get(f"/accounts/{aid}").get_json()["balance"] == -77
    assert api.put(path, json={"value": 200}).status_code == 422


def test_refunds(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1)["id"]
    settled = shop.buy(aid, 100, installments=2)
    tid = settled["id"]
    api.post(f"/accounts/{aid}/invoices/{settled['invoices'][0]}/payments")
    path = f"/accounts/{aid}/transactions/{tid}/refunds"
    assert api.post(path, json={"value": 30}).get_json() == {"value": 30}
    assert api.get(f"/accounts/{aid}/invoices/{tid}-02").get_json()["value"] == 20
    assert api.post(path, json={"value": "70,01"}).status_code == 409
    assert api.post(path, json={}).get_json() == {"value": 70}  # all that is left
    account = api.get(f"/accounts/{aid}").get_json()
    # 20 cancelled the open invoice; the other 50 had been paid and returns to the account.
    assert (account["balance"], account["availableCredit"]) == (50, 1050)
    assert api.post(path, json={"value": 1}).get_json()["error"]["code"] == "refund_exceeds_settled"
    pending = api.post(f"/accounts/{aid}/transactions", json={"value": 5}).get_json()["id"]
    refused = api.post(f"/accounts/{aid}/transactions/{pending}/refunds", json={"value": 5})
    assert refused.status_code == 409


def test_a_hold_is_never_settled_by_the_scheduler(
    api: DocumentedClient, shop: Shop, db: Database
) -> None:
    aid = shop.account(1)["id"]
    expires = (utcnow() + timedelta(days=20)).date().isoformat()
    hold = api.post(
        f"/accounts/{aid}/transactions",
        json={"value": 10, "settle": False, "installments": 1, "expirationDate": expires},
    ).get_json()
    assert hold["expirationDate"] == f"{expires}T00:00:00Z"
    plain = api.post(f"/accounts/{aid}/transactions", json={"value": 20}).get_json()
    later = utcnow() + timedelta(days=15)
    assert settle_due_reservations(db, now=later) == 1
    with db.transaction() as session:
        states = {r.id: r.status for r in session.scalars(select(Reservation))}
    assert states == {hold["id"]: "pending", plain["id"]: "posted"}
    assert expire_reservations(db, now=later + timedelta(days=10)) == 1
    assert api.get(f"/accounts/{aid}").get_json()["preAuthorizedCredit"] == 0
