"""Store configuration and purchase conditions through HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from unittest.mock import ANY

from connector.clock import FixedClock
from tests.api.conftest import DocumentedClient, Shop

PUBLIC_EXAMPLE = {
    "dailyInterestRate": 0.01,
    "invoicePostponementLimit": 2,
    "taxRate": 0.4,
    "maxPostponementDays": 3,
    "defaultCreditValue": 150,
    "maxPreAuthorizationGrowthRate": 0.1,
    "myCreditsEnabled": True,
    "toleranceEnabled": True,
    "automaticCheckingAccountCreationEnabled": True,
    "postponementEnabled": True,
    "notificationsSettings": {
        "daysPrior": [{"days": 1, "timeOfDay": "16:00:00"}],
        "daysAfter": [{"days": 0, "timeOfDay": "12:00:00"}],
    },
}


def test_get_and_put_the_public_example(api: DocumentedClient) -> None:
    defaults = api.get("/storeconfig").get_json()
    assert defaults["toleranceEnabled"] is False and defaults["currency"] == "BRL"
    assert defaults["paymentTerms"] == [[30], [30, 60], [30, 60, 90]]
    saved = api.put("/storeconfig", json=PUBLIC_EXAMPLE)
    assert saved.status_code == 200
    body = saved.get_json()
    assert (body["dailyInterestRate"], body["taxRate"], body["defaultCreditValue"]) == (
        Decimal("0.01"),
        Decimal("0.4"),
        150,
    )
    assert body["notificationsSettings"] == {
        "daysPrior": [{"days": 1, "timeOfDay": "16:00"}],
        "daysAfter": [{"days": 0, "timeOfDay": "12:00"}],
        "invoiceIssued": True,
        "invoicePaid": True,
        "notifyDependents": False,
        "language": "pt",
    }
    assert api.get("/storeconfig").get_json() == body
    partial = api.put("/storeconfig", json={"paymentTerms": [[7], [28, 56]]}).get_json()
    assert partial["paymentTerms"] == [[7], [28, 56]] and partial["taxRate"] == Decimal("0.4")


def test_put_names_each_bad_field(api: DocumentedClient) -> None:
    bad = api.put("/storeconfig", json={"currency": "reais", "taxRate": 2, "colour": "red"})
    assert bad.status_code == 400
    # the body's reading (an unknown field, a rate that reads two ways) before the service's
    assert set(bad.get_json()["error"]["fields"]) == {"colour", "taxRate"}
    bad = api.put("/storeconfig", json={"currency": "reais", "holidayCalendar": "XX"})
    assert set(bad.get_json()["error"]["fields"]) == {"currency", "holidayCalendar"}
    assert api.put("/storeconfig", json=[1]).status_code == 400
    assert api.put("/storeconfig", data="{", content_type="application/json").status_code == 400


def test_put_reads_values_as_people_write_them(api: DocumentedClient) -> None:
    body = api.put(
        "/storeconfig",
        json={
            "defaultCreditValue": "1.500,00",
            "toleranceEnabled": "true",
            "maxPreAuthorizationGrowthRate": "5%",
            "dailyInterestRate": "0,00033",
            "holidayCalendar": "us",
            "taxRate": None,  # null keeps the value
        },
    ).get_json()
    assert body["defaultCreditValue"] == 1500 and body["toleranceEnabled"] is True
    assert body["maxPreAuthorizationGrowthRate"] == Decimal("0.05")
    assert body["dailyInterestRate"] == Decimal("0.00033") and body["taxRate"] == 0
    assert body["holidayCalendar"] == "US"
    cleared = api.put("/storeconfig", json={"holidayCalendar": None}).get_json()
    assert cleared["holidayCalendar"] is None  # null clears the calendar
    bad = api.put(
        "/storeconfig",
        json={
            "notificationsSettings": {"daysPrior": [{"days": 1, "timeOfDay": "25:00"}]},
            "autoSettleBusinessDays": 99,
        },
    )
    assert bad.status_code == 400
    assert set(bad.get_json()["error"]["fields"]) == {
        "notificationsSettings.daysPrior",
        "autoSettleBusinessDays",
    }


def test_purchase_conditions(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1, limit="1000", tolerance="0.1")["id"]
    api.post(f"/accounts/{aid}/holders", json={"claims": {"email": "dep@example.com"}})
    api.post(f"/accounts/{aid}/transactions", json={"value": 200})
    conditions = api.get("/purchase-conditions?email=DEP@example.com")
    assert conditions.status_code == 200
    assert conditions.get_json() == {
        "accountId": aid,
        "currency": "BRL",
        "creditLimit": 1000,
        "availableCredit": 800,
        "toleranceEnabled": False,
        "toleranceHeadroom": 0,
        "maxPurchaseValue": 800,
        "deniedBecause": None,
        "paymentTerms": [
            {"installments": 1, "dueDays": [30]},
            {"installments": 2, "dueDays": [30, 60]},
            {"installments": 3, "dueDays": [30, 60, 90]},
        ],
    }
    api.put("/storeconfig", json={"toleranceEnabled": True})
    enabled = api.get("/purchase-conditions?document=000.000.001-91").get_json()
    assert (enabled["toleranceHeadroom"], enabled["maxPurchaseValue"]) == (100, 900)
    unknown = api.get("/purchase-conditions?email=who@example.com")
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "no_account"
    assert api.get("/purchase-conditions").get_json()["error"]["fields"] == {"email": ANY}
    api.put(
        "/storeconfig",
        json={"automaticCheckingAccountCreationEnabled": True, "defaultCreditValue": "250"},
    )
    future = api.get("/purchase-conditions?email=who@example.com").get_json()
    assert (future["accountId"], future["availableCredit"], future["maxPurchaseValue"]) == (
        None,
        250,
        250,
    )


def test_the_time_zone_decides_the_due_dates_the_api_writes(
    api: DocumentedClient, shop: Shop, clock: FixedClock
) -> None:
    defaults = api.get("/storeconfig").get_json()
    assert (defaults["timeZone"], defaults["dueDatesOnBusinessDays"]) == ("America/Sao_Paulo", True)
    bad = api.put("/storeconfig", json={"timeZone": "Mars/Olympus"})
    assert bad.status_code == 400 and set(bad.get_json()["error"]["fields"]) == {"timeZone"}
    saved = api.put("/storeconfig", json={"timeZone": "America/Santiago", "holidayCalendar": "CL"})
    assert saved.get_json()["timeZone"] == "America/Santiago"
    # Friday 2026-07-10 at 22:00 in Santiago (02:00 UTC on Saturday): +30 days is a Sunday.
    clock.moment = datetime(2026, 7, 11, 2, tzinfo=UTC)
    aid = shop.account(1)["id"]
    [invoice_id] = shop.buy(aid, "100.00")["invoices"]
    invoice = api.get(f"/accounts/{aid}/invoices/{invoice_id}").get_json()
    assert invoice["dueDate"] == "2026-08-10T00:00:00-04:00"  # Monday, winter time
    found = api.get(f"/accounts/{aid}/invoices?dueDateFrom=2026-08-10&dueDateTo=2026-08-10")
    assert [i["id"] for i in found.get_json()["data"]] == [invoice_id]
    # A date-time bound counts as the store's date at that moment: 03:30 UTC on August 11
    # is still August 10 in Santiago.
    moment = api.get(f"/accounts/{aid}/invoices?dueDateTo=2026-08-11T03:30:00Z")
    assert [i["id"] for i in moment.get_json()["data"]] == [invoice_id]
    calendar = api.put("/storeconfig", json={"dueDatesOnBusinessDays": False}).get_json()
    assert calendar["dueDatesOnBusinessDays"] is False
    [second] = shop.buy(aid, "10.00")["invoices"]
    due = api.get(f"/accounts/{aid}/invoices/{second}").get_json()["dueDate"]
    assert due == "2026-08-09T00:00:00-04:00"  # the Sunday itself


def test_collection_settings_are_checked_together(api: DocumentedClient) -> None:
    defaults = api.get("/storeconfig").get_json()
    assert (defaults["blockPurchasesWhenOverdue"], defaults["overdueGraceDays"]) == (False, 0)
    assert defaults["pixKey"] is None
    lonely = api.put("/storeconfig", json={"pixKey": "fulano@example.com"})
    assert lonely.status_code == 400
    assert set(lonely.get_json()["error"]["fields"]) == {"pixMerchantName", "pixMerchantCity"}
    wrong = api.put("/storeconfig", json={"pixKey": "123.456.789-00", "overdueGraceDays": -1})
    assert set(wrong.get_json()["error"]["fields"]) == {"pixKey", "overdueGraceDays"}
    pix = {"pixKey": "123.456.789-09", "pixMerchantName": "Loja", "pixMerchantCity": "Recife"}
    saved = api.put("/storeconfig", json=pix).get_json()
    assert saved["pixKey"] == "12345678909"  # as the DICT keeps it
    language = api.put("/storeconfig", json={"notificationsSettings": {"language": "fr"}})
    assert set(language.get_json()["error"]["fields"]) == {"notificationsSettings.language"}
    cleared = api.put("/storeconfig", json={"pixKey": None}).get_json()
    assert cleared["pixKey"] is None and cleared["pixMerchantName"] == "Loja"
