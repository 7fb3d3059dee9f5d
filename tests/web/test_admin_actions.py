"""The API's actions on the admin's pages: a manual adjustment, a refund and cancelling a
pre-authorization; each is confirmed first and changes exactly what the API's call does."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from connector.access.users import create_user
from connector.credit.models import Invoice, Reservation, StatementEntry
from connector.db import Database
from tests.factories import ADMIN_KEY, ADMIN_TOKEN, Seeded, load_account
from tests.web.conftest import STAFF_EMAIL, STAFF_PASSWORD, post_form, sign_in, text_of

API = "/api/creditcontrol"
KEYS = {"X-VTEX-API-AppKey": ADMIN_KEY, "X-VTEX-API-AppToken": ADMIN_TOKEN}


def api(client: FlaskClient, method: str, path: str, body: Any = None) -> TestResponse:
    """The public API's call, with the store's credentials."""
    return client.open(API + path, method=method, json=body, headers=KEYS)


def hidden_fields(html: str) -> dict[str, str]:
    """The confirmation form's hidden fields: what its "Confirm" sends back."""
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    return {name: value for name, value in found if name != "csrf_token"}


def entries(db: Database, account_id: str, origin: str) -> list[StatementEntry]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(StatementEntry)
                .where(StatementEntry.account_id == account_id, StatementEntry.origin == origin)
                .order_by(StatementEntry.created_at, StatementEntry.id)
            )
        )


def invoices_of(db: Database, account_id: str) -> list[tuple[int, int, str]]:
    with db.transaction() as session:
        rows = session.scalars(
            select(Invoice).where(Invoice.account_id == account_id).order_by(Invoice.installment)
        )
        return [(i.installment, i.value_cents, i.status) for i in rows]


def reservation_of(db: Database, account_id: str) -> Reservation:
    with db.transaction() as session:
        found = session.scalar(select(Reservation).where(Reservation.account_id == account_id))
        assert found is not None
        return found


def pending_purchase(client: FlaskClient, account_id: str, value: str = "120.00") -> str:
    """A pre-authorization that holds credit (settle=false), made through the API."""
    made = api(
        client,
        "POST",
        f"/accounts/{account_id}/transactions",
        {"value": value, "installments": 1, "settle": False},
    )
    assert made.status_code == 200, made.text
    return str(made.json["id"])  # type: ignore[index]


# --- manual adjustment -----------------------------------------------------------------


def test_an_adjustment_asks_first_then_books_what_the_api_books(
    admin_client: FlaskClient, seed: Callable[..., Seeded], db: Database
) -> None:
    page, twin = seed(limit_cents=100_000), seed(limit_cents=100_000)
    admin_client.get("/language/es")
    path = f"/admin/accounts/{page.account_id}/adjustments"
    data = {"kind": "credit", "amount": "1.234,56", "reason": "Bonificación"}
    asked = post_form(admin_client, path, data)
    assert asked.status_code == 200, text_of(asked)
    shown = text_of(asked)
    # The amount and the available credit before and after, written the Spanish way.
    assert (
        "1234,56" in shown.replace(".", "")
        and "700,00" in shown
        and "1934,56" in shown.replace(".", "")
    )
    assert load_account(db, page.account_id).balance_cents == -30_000  # nothing booked yet
    fields = hidden_fields(asked.text)
    assert fields["amount"] == "1.234,56" and fields["statement"]
    booked = post_form(admin_client, path, {**fields, "confirmed": "1"})
    assert booked.status_code == 302, text_of(booked)
    assert booked.location.endswith(f"/admin/accounts/{page.account_id}#statements")

    by_api = api(
        admin_client,
        "PUT",
        f"/accounts/{twin.account_id}/statements/twin-1",
        {"value": "1234.56", "description": "Bonificación"},
    )
    assert by_api.status_code == 200, by_api.text
    mine, theirs = load_account(db, page.account_id), load_account(db, twin.account_id)
    assert mine.balance_cents == theirs.balance_cents == -30_000 + 123_456
    [entry], [other] = (
        entries(db, page.account_id, "Statement"),
        entries(db, twin.account_id, "Statement"),
    )
    assert (entry.value_cents, entry.details) == (other.value_cents, other.details)
    assert entry.done_by == STAFF_EMAIL
    # A second "Confirm" (a double click, a reload) books nothing more: the id is the key.
    assert post_form(admin_client, path, {**fields, "confirmed": "1"}).status_code == 302
    assert len(entries(db, page.account_id, "Statement")) == 1


def test_a_debit_takes_from_the_available_credit(
    admin_client: FlaskClient, seed: Callable[..., Seeded], db: Database
) -> None:
    seeded = seed(limit_cents=100_000)
    path = f"/admin/accounts/{seeded.account_id}/adjustments"
    asked = post_form(admin_client, path, {"kind": "debit", "amount": "50", "reason": "Fee"})
    assert "The available credit goes down by" in text_of(asked)
    post_form(admin_client, path, {**hidden_fields(asked.text), "confirmed": "1"})
    assert load_account(db, seeded.account_id).balance_cents == -30_000 - 5_000


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "credit", "amount": "", "reason": "x"}, "amount", "Required."),
        ({"kind": "credit", "amount": "abc", "reason": "x"}, "amount", "Enter an amount such as"),
        ({"kind": "credit", "amount": "-5", "reason": "x"}, "amount", "Enter an amount such as"),
        ({"kind": "credit", "amount": "0", "reason": "x"}, "amount", "above zero"),
        ({"kind": "credit", "amount": "1,001", "reason": "x"}, None, None),  # 1001.00: allowed
        ({"kind": "credit", "amount": "10", "reason": ""}, "reason", "Required."),
        ({"kind": "gift", "amount": "10", "reason": "x"}, "kind", "Choose credit or debit."),
        ({"kind": "credit", "amount": "0,001", "reason": "x"}, "amount", "Enter an amount"),
    ],
)
def test_an_adjustment_refuses_bad_input_in_the_page(
    admin_client: FlaskClient,
    seed: Callable[..., Seeded],
    db: Database,
    data: dict[str, str],
    field: str | None,
    message: str | None,
) -> None:
    seeded = seed(limit_cents=100_000)
    response = post_form(admin_client, f"/admin/accounts/{seeded.account_id}/adjustments", data)
    if field is None:
        assert response.status_code == 200  # the confirmation
        return
    assert response.status_code == 400, text_of(response)
    assert "Please correct the fields marked below." in text_of(response)
    assert message is not None and message in text_of(response)
    assert entries(db, seeded.account_id, "Statement") == []


def test_an_adjustment_of_a_closed_account_is_refused_with_a_message(
    admin_client: FlaskClient, seed: Callable[..., Seeded], db: Database
) -> None:
    seeded = seed(limit_cents=100_000)
    path = f"/admin/accounts/{seeded.account_id}"
    post_form(admin_client, path + "/close", {"confirm": "1", "force": "1"})
    response = post_form(
        admin_client, path + "/adjustments", {"kind": "credit", "amount": "10", "reason": "x"}
    )
    assert response.status_code == 409
    assert "The account is closed." in text_of(response)
    # Confirmed straight away (a crafted post) is refused by the same service.
    crafted = post_form(
        admin_client,
        path + "/adjustments",
        {"kind": "credit", "amount": "10", "reason": "x", "confirmed": "1"},
    )
    assert crafted.status_code == 409
    assert entries(db, seeded.account_id, "Statement") == []


# --- refund ---------------------------------------------------------------------------


def test_a_partial_refund_changes_what_the_api_refund_changes(
    admin_client: FlaskClient, seed: Callable[..., Seeded], db: Database
) -> None:
    page = seed(limit_cents=100_000, purchase_cents=30_000, installments=3)
    twin = seed(limit_cents=100_000, purchase_cents=30_000, installments=3)
    mine, theirs = reservation_of(db, page.account_id), reservation_of(db, twin.account_id)
    path = f"/admin/accounts/{page.account_id}/purchases/{mine.id}/refund"
    asked = post_form(admin_client, path, {"amount": "150,00"})
    assert asked.status_code == 200, text_of(asked)
    assert "R$ 150,00" in text_of(asked).replace("\xa0", " ") or "R$150.00" in text_of(asked)
    assert invoices_of(db, page.account_id) == invoices_of(db, twin.account_id)  # not yet
    done = post_form(admin_client, path, {**hidden_fields(asked.text), "confirmed": "1"})
    assert done.status_code == 302
    by_api = api(
        admin_client,
        "POST",
        f"/accounts/{twin.account_id}/transactions/{theirs.id}/refunds",
        {"value": "150.00"},
    )
    assert by_api.status_code == 200, by_api.text
    assert invoices_of(db, page.account_id) == invoices_of(db, twin.account_id)
    assert (
        load_account(db, page.account_id).balance_cents
        == load_account(db, twin.account_id).balance_cents
    )
    assert reservation_of(db, page.account_id).refunded_cents == 15_000
    [entry, *_] = entries(db, page.account_id, "Refund")
    assert entry.done_by == STAFF_EMAIL


def test_a_refund_above_what_is_left_is_refused_in_the_page(
    admin_client: FlaskClient, seed: Callable[..., Seeded], db: Database
) -> None:
    seeded = seed(limit_cents=100_000, purchase_cents=30_000)
    reservation = reservation_of(db, seeded.account_id)
    path = f"/admin/accounts/{seeded.account_id}/purchases/{reservation.id}/refund"
    response = post_form(admin_client, path, {"amount": "301"})
    assert response.status_code == 409
    assert "exceeds the 300.00 settled and not yet refunded" in text_of(response)
    assert reservation_of(db, seeded.account_id).refunded_cents == 0
    # Empty: all that is left.
    asked = post_form(admin_client, path, {"amount": ""})
    post_form(admin_client, path, {**hidden_fields(asked.text), "confirmed": "1"})
    assert reservation_of(db, seeded.account_id).refunded_cents == 30_000
    # Nothing left: refused, never a 500.
    again = post_form(admin_client, path, {"amount": ""})
    assert again.status_code == 409


def test_a_refund_of_a_purchase_of_another_account_is_not_found(
    admin_client: FlaskClient, seed: Callable[..., Seeded], db: Database
) -> None:
    one, other = seed(), seed()
    reservation = reservation_of(db, other.account_id)
    path = f"/admin/accounts/{one.account_id}/purchases/{reservation.id}/refund"
    response = post_form(admin_client, path, {"amount": "1"})
    assert response.status_code == 404
    assert reservation_of(db, other.account_id).refunded_cents == 0


# --- cancelling a pre-authorization ------------------------------------------------------


def test_cancelling_a_pre_authorization_releases_what_the_api_delete_releases(
    admin_client: FlaskClient, seed: Callable[..., Seeded], db: Database
) -> None:
    page, twin = seed(limit_cents=100_000), seed(limit_cents=100_000)
    mine = pending_purchase(admin_client, page.account_id)
    theirs = pending_purchase(admin_client, twin.account_id)
    assert load_account(db, page.account_id).reserved_cents == 12_000
    path = f"/admin/accounts/{page.account_id}/purchases/{mine}/cancel"
    asked = post_form(admin_client, path)
    assert asked.status_code == 200
    assert "Credit released" in text_of(asked) and "120.00" in text_of(asked)
    assert "The available credit goes up by" in text_of(asked)
    assert load_account(db, page.account_id).reserved_cents == 12_000  # not yet
    assert post_form(admin_client, path, {"confirmed": "1"}).status_code == 302
    deleted = api(admin_client, "DELETE", f"/accounts/{twin.account_id}/transactions/{theirs}")
    assert deleted.status_code == 200
    a, b = load_account(db, page.account_id), load_account(db, twin.account_id)
    assert (
        (a.reserved_cents, a.balance_cents) == (b.reserved_cents, b.balance_cents) == (0, -30_000)
    )
    with db.transaction() as session:
        statuses = [session.get(Reservation, rid).status for rid in (mine, theirs)]  # type: ignore[union-attr]
    assert statuses == ["voided", "voided"]


def test_cancelling_a_settled_purchase_is_refused_with_a_message(
    admin_client: FlaskClient, seed: Callable[..., Seeded], db: Database
) -> None:
    seeded = seed()
    reservation = reservation_of(db, seeded.account_id)
    path = f"/admin/accounts/{seeded.account_id}/purchases/{reservation.id}/cancel"
    response = post_form(admin_client, path)
    assert response.status_code == 409
    assert "is settled; refund it instead" in text_of(response)


# --- who may ----------------------------------------------------------------------------


@pytest.fixture
def viewer_client(client: FlaskClient, db: Database) -> FlaskClient:
    with db.transaction() as session:
        create_user(session, email="viewer@store.example", password=STAFF_PASSWORD, role="viewer")
    sign_in(client, "viewer@store.example")
    return client


def test_a_viewer_gets_403_and_sees_no_action(
    viewer_client: FlaskClient, seed: Callable[..., Seeded], db: Database
) -> None:
    seeded = seed(limit_cents=100_000)
    rid = reservation_of(db, seeded.account_id).id
    base = f"/admin/accounts/{seeded.account_id}"
    for path, data in [
        (
            base + "/adjustments",
            {"kind": "credit", "amount": "10", "reason": "x", "confirmed": "1"},
        ),
        (base + f"/purchases/{rid}/refund", {"amount": "10", "confirmed": "1"}),
        (base + f"/purchases/{rid}/cancel", {"confirmed": "1"}),
    ]:
        assert post_form(viewer_client, path, data).status_code == 403
    assert load_account(db, seeded.account_id).balance_cents == -30_000
    page = viewer_client.get(base)
    assert page.status_code == 200
    assert "/adjustments" not in page.text and "/refund" not in page.text


def test_the_account_page_lists_its_purchases_with_their_actions(
    admin_client: FlaskClient, seed: Callable[..., Seeded], db: Database
) -> None:
    seeded = seed(limit_cents=100_000)
    held = pending_purchase(admin_client, seeded.account_id)
    page = admin_client.get(f"/admin/accounts/{seeded.account_id}")
    assert page.status_code == 200
    assert f"/purchases/{held}/cancel" in page.text
    assert "/refund" in page.text and "Manual adjustment" in page.text


def test_signed_out_staff_cannot_act(
    client: FlaskClient, seed: Callable[..., Seeded], db: Database
) -> None:
    seeded = seed()
    response = post_form(
        client,
        f"/admin/accounts/{seeded.account_id}/adjustments",
        {"kind": "credit", "amount": "10", "reason": "x", "confirmed": "1"},
    )
    assert response.status_code == 302 and "/admin/login" in response.location
    assert entries(db, seeded.account_id, "Statement") == []
