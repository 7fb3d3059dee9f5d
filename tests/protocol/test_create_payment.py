"""``POST /payments``: authorize by credit, deny with stable codes, replay by paymentId."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.clock import FixedClock
from connector.credit.accounts import close_account, open_account
from connector.credit.holders import add_holder
from connector.credit.models import Account, Invoice, Reservation
from connector.db import Database
from tests.conftest import Post
from tests.factories import NOW, payment_body


def reservations(db: Database) -> list[Reservation]:
    with db.transaction() as session:
        return list(session.scalars(select(Reservation)))


def account(db: Database, account_id: str) -> Account:
    with db.transaction() as session:
        found = session.get(Account, account_id)
        assert found is not None
        return found


def test_approved_payment_reserves_credit(post: Post, db: Database, buyer_account: str) -> None:
    response = post("/payments", payment_body("p1", "250.50", installments=2))
    assert response.status_code == 200
    answer = response.json
    assert answer is not None
    assert answer["status"] == "approved" and answer["paymentId"] == "p1"
    assert answer["authorizationId"] and answer["tid"] and answer["nsu"]
    assert answer["code"] == "approved" and answer["acquirer"]
    assert 0 < answer["delayToAutoSettle"] <= 604_800
    assert 0 < answer["delayToAutoSettleAfterAntifraud"] <= 604_800
    assert 600 <= answer["delayToCancel"] <= 2_592_000
    [reservation] = reservations(db)
    assert (reservation.value_cents, reservation.installments) == (25_050, 2)
    assert reservation.order_id == "order-p1"
    assert account(db, buyer_account).reserved_cents == 25_050


def test_repeats_answer_the_same_and_reserve_once(
    post: Post, db: Database, buyer_account: str
) -> None:
    first = post("/payments", payment_body("p1")).json
    again = post("/payments", payment_body("p1")).json
    assert again == first
    assert len(reservations(db)) == 1
    assert account(db, buyer_account).reserved_cents == 10_000


def test_a_changed_repeat_is_an_idempotency_conflict(
    post: Post, db: Database, buyer_account: str
) -> None:
    original = post("/payments", payment_body("p1")).json
    for change in ({"value": "100.01"}, {"currency": "USD"}, {"installments": 2}):
        response = post("/payments", payment_body("p1", **change))
        assert response.status_code == 400
        assert response.json is not None
        assert response.json["status"] == "error"
        assert response.json["code"] == "idempotency_conflict"
    other_buyer = payment_body("p1")
    other_buyer["miniCart"]["buyer"]["email"] = "someone@example.com"
    assert post("/payments", other_buyer).json["code"] == "idempotency_conflict"  # type: ignore[index]
    assert post("/payments", payment_body("p1")).json == original
    assert account(db, buyer_account).reserved_cents == 10_000


@pytest.mark.parametrize(
    ("setup", "body_changes", "code"),
    [
        ("none", {}, "no_account"),
        ("closed", {}, "account_closed"),
        ("open", {"value": "1000.01"}, "insufficient_credit"),
        ("open", {"currency": "USD"}, "currency_not_supported"),
        ("open", {"installments": 5}, "installments_not_allowed"),
        ("open", {"paymentMethod": "Mastercard"}, "payment_method_not_supported"),
    ],
)
def test_denials_carry_stable_codes(
    post: Post, db: Database, setup: str, body_changes: dict[str, object], code: str
) -> None:
    if setup != "none":
        with db.transaction() as session:
            opened = open_account(
                session, email="buyer@example.com", credit_limit_cents=100_000, now=NOW
            )
            if setup == "closed":
                close_account(session, opened.id, now=NOW)
    answer = post("/payments", payment_body("p1", **body_changes)).json
    assert answer is not None
    assert answer["status"] == "denied" and answer["code"] == code
    assert answer["message"] and answer["authorizationId"] is None
    assert 0 < answer["delayToAutoSettle"] <= 604_800  # never zero, even when denied
    assert reservations(db) == []
    assert post("/payments", payment_body("p1", **body_changes)).json == answer


def test_dependents_and_documents_find_the_account(
    post: Post, db: Database, buyer_account: str
) -> None:
    with db.transaction() as session:
        add_holder(session, buyer_account, "dependent@example.com", now=NOW)
    by_dependent = payment_body("p1")
    by_dependent["miniCart"]["buyer"]["email"] = "Dependent@Example.com"
    assert post("/payments", by_dependent).json["status"] == "approved"  # type: ignore[index]
    by_document = payment_body("p2")
    by_document["miniCart"]["buyer"]["email"] = "unknown@example.com"
    assert post("/payments", by_document).json["status"] == "approved"  # type: ignore[index]
    assert {r.holder_email for r in reservations(db)} == {
        "dependent@example.com",
        "unknown@example.com",
    }
    assert account(db, buyer_account).reserved_cents == 20_000


def test_accounts_open_on_first_purchase_when_the_store_enables_it(
    post: Post, db: Database, store: Callable[..., None]
) -> None:
    assert post("/payments", payment_body("p1")).json["code"] == "no_account"  # type: ignore[index]
    store(automatic_account_creation_enabled=True, default_credit_cents=50000)
    answer = post("/payments", payment_body("p2", "400")).json
    assert answer is not None and answer["status"] == "approved"
    assert account(db, "12345678909_CPF").credit_limit_cents == 50_000
    assert post("/payments", payment_body("p3", "100.01")).json["code"] == "insufficient_credit"  # type: ignore[index]


def test_tolerance_applies_only_when_enabled(
    post: Post, db: Database, buyer_account: str, store: Callable[..., None]
) -> None:
    from connector.credit.account_changes import change_tolerance

    with db.transaction() as session:
        change_tolerance(session, buyer_account, 1000, now=NOW)
    assert post("/payments", payment_body("p1", "1100")).json["status"] == "denied"  # type: ignore[index]
    store(tolerance_enabled=True)
    assert post("/payments", payment_body("p2", "1250")).json["status"] == "denied"  # type: ignore[index]
    assert post("/payments", payment_body("p3", "1100")).json["status"] == "approved"  # type: ignore[index]


def test_lenient_reading_strict_money(post: Post, db: Database, buyer_account: str) -> None:
    body = payment_body(12345, "1.234,56", installments="3", unknownField={"x": 1})
    body["minicart"] = body.pop("miniCart")  # the other spelling
    body["sandboxMode"] = body.pop("sandBoxMode")
    response = post("/payments", body)
    assert response.status_code == 200
    assert response.json["status"] == "denied"  # type: ignore[index]
    assert response.json["code"] == "insufficient_credit"  # type: ignore[index]
    answer = post("/payments", payment_body("p2", Decimal("31.9"))).json
    assert answer is not None and answer["status"] == "approved"
    assert reservations(db)[0].value_cents == 3_190


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": "100"}, "paymentId"),
        ({"paymentId": "p1"}, "value"),
        ({"paymentId": "p1", "value": "-5", "currency": "BRL"}, "value"),
        ({"paymentId": "p1", "value": "0", "currency": "BRL"}, "value"),
        ({"paymentId": "p1", "value": "10.001", "currency": "BRL"}, "value"),
        ({"paymentId": "p1", "value": "1e30", "currency": "BRL"}, "value"),
        ({"paymentId": "p1", "value": "abc", "currency": "BRL"}, "value"),
        ({"paymentId": ["p1"], "value": "10", "currency": "BRL"}, "paymentId"),
        (
            {"paymentId": "p1", "value": "10", "currency": "BRL", "installments": "two"},
            "installments",
        ),
        ({"paymentId": "p1", "value": "10", "currency": "BRL", "miniCart": "x"}, "miniCart"),
    ],
)
def test_bad_input_is_a_400_in_the_protocol_shape(
    post: Post, db: Database, buyer_account: str, body: dict[str, object], field: str
) -> None:
    response = post("/payments", body)
    assert response.status_code == 400
    error = response.json
    assert error is not None
    assert error["status"] == "error" and error["code"] == "invalid_request"
    assert field in error["message"]
    assert reservations(db) == []


def test_malformed_json_and_non_objects(
    client: FlaskClient, admin_headers: dict[str, str], post: Post
) -> None:
    response = client.post(
        "/payments", data="{not json", headers=admin_headers, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json == {
        "status": "error",
        "code": "malformed_json",
        "message": "the body is not valid JSON",
    }
    for body in ([1, 2], "text", None):
        response = post("/payments", body)
        assert response.status_code == 400 and response.json["status"] == "error"  # type: ignore[index]


def test_credentials(
    client: FlaskClient, headers_for: Callable[[str], dict[str, str]], buyer_account: str
) -> None:
    body = payment_body("p1")
    missing = client.post("/payments", json=body)
    assert missing.status_code == 401
    assert missing.json["status"] == "error" and missing.json["code"] == "unauthorized"  # type: ignore[index]
    wrong = {"X-VTEX-API-AppKey": "test-admin-key", "X-VTEX-API-AppToken": "wrong-token-123456"}
    assert client.post("/payments", json=body, headers=wrong).status_code == 401
    assert client.post("/payments", json=body, headers=headers_for("read")).status_code == 403
    gateway = headers_for("gateway")
    provider_pair = {
        "x-provider-api-appkey": gateway["X-VTEX-API-AppKey"],
        "x-provider-api-apptoken": gateway["X-VTEX-API-AppToken"],
    }
    response = client.post("/payments", json=body, headers=provider_pair)
    assert response.status_code == 200 and response.json["status"] == "approved"  # type: ignore[index]


def test_manifest_is_public(client: FlaskClient) -> None:
    manifest = client.get("/manifest").json
    assert manifest is not None
    assert {"name": "Promissories", "allowsSplit": "disabled"} in manifest["paymentMethods"]
    assert client.get("/payment-methods").json == {"paymentMethods": ["Promissories", "Visa"]}


def test_approved_and_denied_payments_tell_the_same_auto_settle_window(
    post: Post,
    db: Database,
    buyer_account: str,
    clock: FixedClock,
    store: Callable[..., None],
) -> None:
    """One rule decides when a purchase settles itself (``StoreSettings.auto_settle_at``):
    the reservation's moment, and the delay the gateway is told with or without one."""
    store(auto_settle_business_days=3)
    clock.moment = NOW  # a Monday noon: 3 business days later is Thursday noon
    approved = post("/payments", payment_body("ok", "100.00")).json
    denied = post("/payments", payment_body("no", "5000.00")).json
    assert approved is not None and denied is not None
    assert (approved["status"], denied["status"]) == ("approved", "denied")
    three_days = 3 * 24 * 3600
    assert approved["delayToAutoSettle"] == denied["delayToAutoSettle"] == three_days
    [reservation] = reservations(db)
    assert reservation.auto_settle_at == NOW + timedelta(days=3)


def test_the_buyer_is_found_however_the_gateway_writes_the_e_mail(
    post: Post, db: Database, buyer_account: str
) -> None:
    body = payment_body("p1", "10.00")
    body["miniCart"]["buyer"].update(email="  Buyer@EXAMPLE.com ", document=None)
    answer = post("/payments", body).json
    assert answer is not None and answer["status"] == "approved", answer
    [reservation] = reservations(db)
    assert reservation.account_id == buyer_account
    assert reservation.holder_email == "buyer@example.com"


@pytest.mark.parametrize(
    ("each", "expected"),
    [
        ("102.01", [10_201, 10_201, 10_202]),  # as agreed, the last takes the rounding
        ("90.00", [10_202, 10_201, 10_201]),  # does not add up: the value, split evenly
    ],
)
def test_installments_agreed_at_checkout_become_the_invoices(
    post: Post, db: Database, buyer_account: str, each: str, expected: list[int]
) -> None:
    body = payment_body(
        "fin", "306.04", installments=3, installmentsInterestRate=0.0199, installmentsValue=each
    )
    body["referenceValue"] = "300.00"  # before interest
    answer = post("/payments", body).json
    assert answer is not None and answer["status"] == "approved"
    assert account(db, buyer_account).reserved_cents == 30_604  # the financed total
    settled = post("/payments/fin/settlements", {"requestId": "s1", "value": "306.04"})
    assert settled.status_code == 200
    with db.transaction() as session:
        values = session.scalars(select(Invoice.value_cents).order_by(Invoice.installment)).all()
    assert values == expected
