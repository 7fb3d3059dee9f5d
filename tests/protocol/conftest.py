from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from connector.credit.accounts import open_account
from connector.credit.settings import update_store_settings
from connector.db import Database
from tests.conftest import NOW

TESTSUITE = {"X-VTEX-API-Is-TestSuite": "true"}


def payment_body(payment_id: str, value: Any = "100.00", **overrides: Any) -> dict[str, Any]:
    """A create-payment request as the gateway sends it (most fields, some null)."""
    body: dict[str, Any] = {
        "reference": f"ref-{payment_id}",
        "orderId": f"order-{payment_id}",
        "shopperInteraction": "ecommerce",
        "verificationOnly": False,
        "paymentId": payment_id,
        "transactionId": f"tx-{payment_id}",
        "paymentMethod": "Promissories",
        "merchantName": "store",
        "value": value,
        "referenceValue": value,
        "currency": "BRL",
        "installments": 1,
        "installmentsInterestRate": 0,
        "installmentsValue": value,
        "deviceFingerprint": "x",
        "card": {"holder": None, "number": None, "csc": None, "expiration": None},
        "miniCart": {
            "buyer": {
                "id": "b1",
                "firstName": "Ana",
                "lastName": "Silva",
                "document": "12345678909",
                "documentType": "CPF",
                "email": "buyer@example.com",
                "phone": "+5511999999999",
                "isCorporate": False,
            },
            "items": [{"id": "1", "name": "Paper", "price": value, "quantity": 1}],
        },
        "url": "https://store.example.com/order",
        "callbackUrl": f"https://gateway.example.com/callback/{payment_id}?sig=abc%3D%3D",
        "returnUrl": None,
        "sandBoxMode": False,
    }
    body.update(overrides)
    return body


def card_body(payment_id: str, number: str, **overrides: Any) -> dict[str, Any]:
    body = payment_body(payment_id, paymentMethod="Visa", **overrides)
    body["card"] = {
        "holder": "Test",
        "number": number,
        "csc": "123",
        "expiration": {"month": "12", "year": "2030"},
    }
    return body


Post = Callable[..., TestResponse]


@pytest.fixture
def post(client: FlaskClient, admin_headers: dict[str, str]) -> Post:
    """POST JSON to the connector with the store's credentials."""

    def send(path: str, body: Any, headers: dict[str, str] | None = None) -> TestResponse:
        return client.post(path, json=body, headers={**admin_headers, **(headers or {})})

    return send


@pytest.fixture
def buyer_account(db: Database) -> str:
    """An account for buyer@example.com with a 1,000.00 limit."""
    with db.transaction() as session:
        return open_account(
            session,
            email="buyer@example.com",
            credit_limit_cents=100_000,
            document="12345678909",
            document_type="CPF",
            now=NOW,
        ).id


@pytest.fixture
def store(db: Database) -> Callable[..., None]:
    def change(**changes: Any) -> None:
        with db.transaction() as session:
            update_store_settings(session, changes)

    return change
