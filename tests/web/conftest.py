"""Fixtures of the web edge: a staff user, a signed-in client, accounts with invoices."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from connector.access.users import create_user
from connector.clock import utcnow
from connector.credit.accounts import open_account
from connector.credit.models import Account, Invoice
from connector.credit.reservations import reserve
from connector.credit.settings import update_store_settings
from connector.credit.settlements import settle_reservation
from connector.db import Database

STAFF_EMAIL = "staff@store.example"
STAFF_PASSWORD = "correct horse battery"


def csrf_of(client: FlaskClient) -> str:
    """The session's CSRF token (a page is fetched first if the session has none)."""
    with client.session_transaction() as session:
        token = session.get("csrf")
    if token is None:
        client.get("/admin/login")
        with client.session_transaction() as session:
            token = session.get("csrf")
    assert isinstance(token, str)
    return token


def post_form(client: FlaskClient, path: str, data: dict[str, Any] | None = None) -> TestResponse:
    """POST a form as the page would: with the session's CSRF token."""
    return client.post(path, data={"csrf_token": csrf_of(client), **(data or {})})


def sign_in(client: FlaskClient, email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD) -> None:
    response = post_form(client, "/admin/login", {"email": email, "password": password})
    assert response.status_code == 302, response.text


@pytest.fixture
def staff(db: Database) -> str:
    with db.transaction() as session:
        create_user(session, email=STAFF_EMAIL, password=STAFF_PASSWORD, name="Sam Staff")
    return STAFF_EMAIL


@pytest.fixture
def admin_client(client: FlaskClient, staff: str) -> FlaskClient:
    sign_in(client)
    return client


@dataclass
class Seeded:
    account_id: str
    invoice_ids: list[str]


def text_of(response: TestResponse) -> str:
    """The page's text without tags and with spaces collapsed, for assertions."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))


@pytest.fixture
def seed(db: Database) -> Callable[..., Seeded]:
    """An open account with one settled purchase (one invoice per installment)."""
    counter = iter(range(1, 1000))

    def make(
        *,
        email: str | None = None,
        limit_cents: int = 100_000,
        purchase_cents: int = 30_000,
        installments: int = 1,
        settled_days_ago: int = 0,
        payment_link: str | None = None,
    ) -> Seeded:
        n = next(counter)
        now = utcnow() - timedelta(days=settled_days_ago)
        with db.transaction() as session:
            account = open_account(
                session,
                email=email or f"buyer{n}@example.com",
                credit_limit_cents=limit_cents,
                document=f"{n:011d}",
                document_type="CPF",
                now=now,
            )
            reservation = reserve(
                session,
                account.id,
                purchase_cents,
                installments=installments,
                order_id=f"ORDER-{n}",
                now=now,
            )
            settled = settle_reservation(session, reservation.id, now=now)
            for invoice in settled.invoices:
                invoice.payment_link = payment_link
            return Seeded(account.id, [i.id for i in settled.invoices])

    return make


@pytest.fixture
def store(db: Database) -> Callable[..., None]:
    def change(**changes: Any) -> None:
        with db.transaction() as session:
            update_store_settings(session, changes)

    return change


def load_account(db: Database, account_id: str) -> Account:
    with db.transaction() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account


def load_invoice(db: Database, invoice_id: str) -> Invoice:
    with db.transaction() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        return invoice
