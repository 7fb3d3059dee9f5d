"""Builders of test data, shared by every test package: accounts, purchases, settings.

Each takes a session (the caller's transaction) or a database (its own), and fills in
sensible values that a test overrides by keyword.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from connector.clock import utcnow
from connector.credit.accounts import open_account
from connector.credit.models import Account, Invoice
from connector.credit.reservations import reserve
from connector.credit.settings import update_store_settings
from connector.credit.settlements import settle_reservation
from connector.db import Database

ADMIN_KEY = "test-admin-key"
ADMIN_TOKEN = "test-admin-token-0123456789"

# A fixed Monday morning, so business-day arithmetic in tests is predictable.
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

_numbers = itertools.count(1)


def restart_numbering() -> None:
    """Number the next account 1 again (each test starts from 1)."""
    global _numbers
    _numbers = itertools.count(1)


OpenAccount = Callable[..., Account]


def valid_cpf(n: int) -> str:
    """A CPF with its two check digits (modulo 11), from a number of up to nine digits."""
    digits = [int(c) for c in f"{n:09d}"]
    for length in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(length + 1, 1, -1), strict=True))
        digits.append((total * 10) % 11 % 10)
    return "".join(map(str, digits))


def valid_cnpj(n: int) -> str:
    """A CNPJ (branch 0001) with its two check digits, from a number of up to eight digits."""
    base = f"{n:08d}0001"
    digits = [int(c) for c in base]
    for weights in ([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]):
        remainder = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        digits.append(0 if remainder < 2 else 11 - remainder)
    return "".join(map(str, digits))


def account(session: Session, *, number: int | None = None, **overrides: Any) -> Account:
    """An open account (a numbered e-mail and CPF, a 1,000.00 limit) opened at ``NOW``."""
    n = number or next(_numbers)
    values: dict[str, Any] = {
        "email": f"buyer{n}@example.com",
        "credit_limit_cents": 100_000,
        "document": valid_cpf(n),
        "document_type": "CPF",
        "now": NOW,
    }
    values.update(overrides)
    return open_account(session, **values)


def settings(session: Session, **changes: Any) -> None:
    """Change the store's settings, by field name."""
    update_store_settings(session, changes)


@dataclass
class Seeded:
    account_id: str
    invoice_ids: list[str]


def settled_purchase(
    db: Database,
    *,
    email: str | None = None,
    limit_cents: int = 100_000,
    purchase_cents: int = 30_000,
    installments: int = 1,
    settled_days_ago: int = 0,
    payment_link: str | None = None,
) -> Seeded:
    """An open account with one settled purchase (one invoice per installment)."""
    now = utcnow() - timedelta(days=settled_days_ago)
    with db.transaction() as session:
        n = next(_numbers)
        opened = account(
            session,
            number=n,
            email=email or f"buyer{n}@example.com",
            credit_limit_cents=limit_cents,
            now=now,
        )
        reservation = reserve(
            session,
            opened.id,
            purchase_cents,
            installments=installments,
            order_id=f"ORDER-{n}",
            now=now,
        )
        settled = settle_reservation(session, reservation.id, now=now)
        for invoice in settled.invoices:
            invoice.payment_link = payment_link
        return Seeded(opened.id, [i.id for i in settled.invoices])


def load_account(db: Database, account_id: str) -> Account:
    with db.transaction() as session:
        found = session.get(Account, account_id)
        assert found is not None
        return found


def load_invoice(db: Database, invoice_id: str) -> Invoice:
    with db.transaction() as session:
        found = session.get(Invoice, invoice_id)
        assert found is not None
        return found


# --- the gateway's requests ------------------------------------------------------------

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
