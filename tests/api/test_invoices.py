"""Invoices through HTTP: search and summary, change, cancel, pay, postpone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest.mock import ANY

from connector.clock import FixedClock, utcnow
from tests.api.conftest import DocumentedClient, Shop
from tests.factories import NOW


def test_invoice_shape_and_lookup(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1)["id"]
    settled = shop.buy(aid, "100.00", installments=3)
    first, *_later = settled["invoices"]
    assert first == f"{settled['id']}-01"
    invoice = api.get(f"/accounts/{aid}/invoices/{first}").get_json()
    assert invoice == {
        "id": first,
        "friendlyId": ANY,
        "status": "Opened",
        "value": Decimal("33.34"),
        "creditValue": 0,
        "accountId": aid,
        "creditAccountId": aid,
        "transactionId": settled["id"],
        "orderId": settled["id"],  # no order: the transaction id the merchant used
        "installment": 1,
        "numberOfInstallments": 3,
        "createdAt": ANY,
        "updatedAt": ANY,
        "resolvedAt": None,
        "originalDueDate": ANY,
        "dueDate": invoice["originalDueDate"],
        "paymentLink": None,
        "observation": None,
        "amountDue": Decimal("33.34"),
        "lateFee": 0,
        "interest": 0,
        "daysOverdue": 0,
        "asOf": ANY,
        "paidOn": None,
        "paymentMethod": None,
        "paymentReference": None,
        "amountReceived": None,
    }
    assert re.fullmatch(r"V\d{4,}-01", invoice["friendlyId"])  # the purchase, its installment
    other = shop.account(2)["id"]
    assert api.get(f"/accounts/{other}/invoices/{first}").status_code == 404
    assert api.get(f"/accounts/{aid}/invoices/nope").get_json()["error"]["code"] == (
        "invoice_not_found"
    )


def test_search_filters_paging_and_summary(api: DocumentedClient, shop: Shop) -> None:
    a = shop.account(1, limit=10_000)["id"]
    b = shop.account(2, limit=10_000)["id"]
    a1 = shop.buy(a, 300, installments=3)["invoices"]
    a2 = shop.buy(a, 50)["invoices"]
    b1 = shop.buy(b, 70)["invoices"]
    assert api.post(f"/accounts/{a}/invoices/{a1[0]}/payments").status_code == 200
    assert api.delete(f"/accounts/{a}/invoices/{a1[1]}").status_code == 200
    api.put(f"/accounts/{a}/invoices/{a2[0]}", json={"observation": "Boleto 100% sent"})

    everything = api.get("/invoices").get_json()
    assert [i["id"] for i in everything["data"]] == [*a1, *a2, *b1]  # oldest first
    assert everything["summary"] == {
        "total": 220,  # the open ones, as the public API sums them
        "count": 5,
        "totalPaid": 100,
        "totalCancelled": 100,
    }
    page = api.get("/invoices?from=2&to=3").get_json()
    assert [i["id"] for i in page["data"]] == [a1[1], a1[2]]
    assert page["summary"]["count"] == 5  # the summary covers every match, not the page
    opened = api.get("/invoices?status=Open").get_json()
    assert [i["id"] for i in opened["data"]] == [a1[2], *a2, *b1]
    assert api.get("/invoices?status=Opened").get_json() == opened
    resolved = api.get("/invoices?status=Paid,Cancelled").get_json()
    assert [i["id"] for i in resolved["data"]] == a1[:2]
    assert api.get("/invoices?status=Overdue").get_json()["summary"]["count"] == 0
    assert [i["id"] for i in api.get("/invoices?value=70").get_json()["data"]] == b1
    assert [
        i["id"] for i in api.get("/invoices?value=70.00&creditAccountId=" + a).get_json()["data"]
    ] == []
    either = api.get("/invoices?value=70&observation=100%25&op=or").get_json()
    assert {i["id"] for i in either["data"]} == {*a2, *b1}
    scoped = api.get(f"/invoices?value=70&observation=100%25&op=or&creditAccountId={a}")
    assert [i["id"] for i in scoped.get_json()["data"]] == a2
    friendly = api.get(f"/accounts/{a}/invoices/{a2[0]}").get_json()["friendlyId"]
    assert [i["id"] for i in api.get(f"/invoices?friendlyId={friendly}").get_json()["data"]] == a2
    today = utcnow().date()
    in_a_month = (today + timedelta(days=30)).isoformat()
    due = api.get(f"/invoices?dueDateFrom={in_a_month}&dueDateTo={in_a_month}").get_json()
    assert {i["id"] for i in due["data"]} == {a1[0], *a2, *b1}
    created = api.get(f"/invoices?createdDateFrom={today}&createDateTo={today}").get_json()
    assert created["summary"]["count"] == 5
    yesterday = (today - timedelta(days=1)).isoformat()
    assert api.get(f"/invoices?createdDateTo={yesterday}").get_json()["summary"]["count"] == 0
    per_account = api.get(f"/accounts/{a}/invoices?status=Open").get_json()
    assert [i["id"] for i in per_account["data"]] == [a1[2], *a2]
    assert per_account["summary"] == {"total": 150, "count": 2, "totalPaid": 0, "totalCancelled": 0}


def test_search_refuses_bad_parameters(api: DocumentedClient) -> None:
    bad = api.get("/invoices?status=Late&value=abc&dueDateFrom=tomorrow&op=xor&colour=red")
    assert bad.status_code == 400
    assert set(bad.get_json()["error"]["fields"]) == {"value", "dueDateFrom", "op", "colour"}
    assert api.get("/invoices?status=Late").get_json()["error"]["fields"] == {"status": ANY}
    assert api.get("/accounts/nope/invoices?creditAccountId=x").status_code == 400


def test_change_invoice_answers_without_a_body(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1)["id"]
    [iid] = shop.buy(aid, 100)["invoices"]
    path = f"/accounts/{aid}/invoices/{iid}"
    body = {"status": "Open", "observation": "BF 2023", "paymentLink": "https://pay.example.com/1"}
    changed = api.put(path, json=body)
    assert changed.status_code == 200 and changed.get_data() == b""
    invoice = api.get(path).get_json()
    assert (invoice["status"], invoice["observation"], invoice["paymentLink"]) == (
        "Opened",
        "BF 2023",
        "https://pay.example.com/1",
    )
    assert api.put(path, json={"paymentLink": "ftp://x"}).status_code == 400
    assert api.put(path, json={"status": "Late"}).get_json()["error"]["fields"] == {"status": ANY}
    assert api.put(path, json={"observation": None}).status_code == 200
    assert api.get(path).get_json()["observation"] is None
    assert api.put(path, json={"status": "Paid"}).status_code == 200
    paid = api.get(path).get_json()
    assert paid["status"] == "Paid" and paid["resolvedAt"] is not None
    assert api.get(f"/accounts/{aid}").get_json()["balance"] == 0
    assert api.put(path, json={"status": "Cancelled"}).status_code == 409
    assert api.put(path, json={"status": "Opened"}).status_code == 409


def test_paid_cannot_be_cancelled_nor_cancelled_paid(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1)["id"]
    paid, cancelled = shop.buy(aid, 100, installments=2)["invoices"]
    pay = api.post(f"/accounts/{aid}/invoices/{paid}/payments")
    assert pay.status_code == 200 and pay.get_json()["status"] == "Paid"
    assert api.post(f"/accounts/{aid}/invoices/{paid}/payments").status_code == 200  # no-op
    refused = api.delete(f"/accounts/{aid}/invoices/{paid}")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "invoice_paid"
    cancel = api.delete(f"/accounts/{aid}/invoices/{cancelled}")
    assert cancel.status_code == 200 and cancel.get_data() == b""
    assert api.delete(f"/accounts/{aid}/invoices/{cancelled}").status_code == 200  # no-op
    refused = api.post(f"/accounts/{aid}/invoices/{cancelled}/payments")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "invoice_cancelled"
    assert api.get(f"/accounts/{aid}").get_json()["availableCredit"] == 1000


def test_postpone(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1)["id"]
    [iid] = shop.buy(aid, 100)["invoices"]
    path = f"/accounts/{aid}/invoices/{iid}/postponement"
    refused = api.put(path, json={"dueDays": 10})
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "postponement_refused"
    api.put("/storeconfig", json={"postponementEnabled": True})
    before = api.get(f"/accounts/{aid}/invoices/{iid}").get_json()
    done = api.put(path, json={"dueDays": "10"})
    assert done.status_code == 200 and done.get_data() == b""
    after = api.get(f"/accounts/{aid}/invoices/{iid}").get_json()
    assert after["originalDueDate"] == before["dueDate"] and after["dueDate"] != before["dueDate"]
    assert api.put(path, json={"dueDays": 10}).status_code == 409  # the limit is 1 time
    assert api.put(path, json={"dueDays": 1.5}).status_code == 400
    assert api.put(path, json={}).get_json()["error"]["fields"] == {"dueDays": ANY}


def test_an_invoice_turns_overdue_at_the_stores_midnight_after_its_due_date(
    api: DocumentedClient, shop: Shop, clock: FixedClock
) -> None:
    """Bought on Monday 2026-03-02 at 09:00 in São Paulo (the default zone), 30 days:
    due Wednesday 2026-04-01, overdue from 00:00 of April 2 there (03:00 UTC)."""
    clock.moment = NOW
    aid = shop.account(1)["id"]
    [invoice_id] = shop.buy(aid, "100.00")["invoices"]
    invoice = api.get(f"/accounts/{aid}/invoices/{invoice_id}").get_json()
    assert invoice["dueDate"] == invoice["originalDueDate"] == "2026-04-01T00:00:00-03:00"
    overdue = f"/accounts/{aid}/invoices?status=Overdue"
    assert api.get(overdue).get_json()["summary"]["count"] == 0
    clock.moment = datetime(2026, 4, 2, 2, 59, 59, tzinfo=UTC)  # 23:59:59 on the due day
    assert api.get(overdue).get_json()["summary"]["count"] == 0
    clock.advance(timedelta(seconds=1))
    assert [i["id"] for i in api.get(overdue).get_json()["data"]] == [invoice_id]


def test_late_charges_are_quoted_paid_and_booked_apart_from_the_credit(
    api: DocumentedClient, shop: Shop, clock: FixedClock
) -> None:
    """2 % late fee and 0.1 % a day on 1,000.00 due 2026-04-01 (São Paulo)."""
    clock.moment = NOW
    api.put("/storeconfig", json={"taxRate": "0.02", "dailyInterestRate": "0.001"})
    aid = shop.account(1, limit=5_000)["id"]
    [invoice_id] = shop.buy(aid, "1000.00")["invoices"]
    path = f"/accounts/{aid}/invoices/{invoice_id}"
    on_time = api.get(path).get_json()
    assert (on_time["amountDue"], on_time["daysOverdue"], on_time["asOf"]) == (
        Decimal("1000.00"),
        0,
        "2026-03-02",
    )
    quote = api.get(path + "?asOf=2026-04-11").get_json()  # ten days late
    assert (quote["lateFee"], quote["interest"], quote["amountDue"]) == (
        Decimal("20.00"),
        Decimal("10.00"),
        Decimal("1030.00"),
    )
    assert quote["daysOverdue"] == 10
    assert api.get(path + "?asOf=someday").status_code == 400
    clock.moment = datetime(2026, 4, 12, 15, tzinfo=UTC)  # April 12: eleven days late
    listed = api.get(f"/accounts/{aid}/invoices").get_json()["data"][0]
    assert listed["amountDue"] == Decimal("1031.00")
    too_little = api.post(path + "/payments", json={"amountReceived": "999.99"})
    assert too_little.status_code == 400
    assert set(too_little.get_json()["error"]["fields"]) == {"amountReceived"}
    future = api.post(path + "/payments", json={"paymentDate": "2026-04-13"})
    assert set(future.get_json()["error"]["fields"]) == {"paymentDate"}
    paid = api.post(
        path + "/payments",
        json={
            "paymentDate": "2026-04-11",  # paid yesterday, recorded today
            "paymentMethod": "pix",
            "paymentReference": "E123",
            "amountReceived": "1025.00",  # the store waived 5.00 of the interest
        },
    ).get_json()
    assert (paid["status"], paid["amountDue"], paid["amountReceived"]) == (
        "Paid",
        0,
        Decimal("1025.00"),
    )
    assert (paid["lateFee"], paid["interest"], paid["paidOn"]) == (
        Decimal("20.00"),
        Decimal("5.00"),
        "2026-04-11",
    )
    assert (paid["paymentMethod"], paid["paymentReference"]) == ("pix", "E123")
    account = api.get(f"/accounts/{aid}").get_json()
    assert account["availableCredit"] == Decimal("5000.00")  # the value came back, no more
    entries = api.get(f"/accounts/{aid}/statements").get_json()["statements"]
    assert [(e["origin"], e["metadata"]["kind"], e["value"]) for e in entries][-3:] == [
        ("Invoice", "LateFee", Decimal("-20.00")),
        ("Invoice", "Interest", Decimal("-5.00")),
        ("Payment", "Payment", Decimal("1025.00")),
    ]
