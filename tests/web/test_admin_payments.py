"""The Payments page: every authorization newest first, its filters, a denial's code in
words, the review it belongs to, and one payment's timeline and actions."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.clock import FixedClock
from connector.credit.models import Reservation
from connector.db import Database
from connector.payments.models import Payment
from tests.conftest import Post
from tests.factories import load_account, payment_body
from tests.web.conftest import post_form, text_of


def hidden_fields(html: str) -> dict[str, str]:
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    return {name: value for name, value in found if name != "csrf_token"}


def pay(post: Post, payment_id: str, value: str = "100.00", **overrides: object) -> dict:  # type: ignore[type-arg]
    answer = post("/payments", payment_body(payment_id, value, **overrides))
    assert answer.status_code == 200, answer.text
    return answer.json  # type: ignore[no-any-return]


def ids_in_order(html: str) -> list[str]:
    return re.findall(r'href="/admin/payments/([^"?#]+)"', html)


def test_the_list_shows_every_authorization_newest_first_with_a_denials_code(
    admin_client: FlaskClient, post: Post, buyer_account: str, clock: FixedClock
) -> None:
    assert pay(post, "p-old", "100.00")["status"] == "approved"
    clock.advance(timedelta(minutes=1))
    assert pay(post, "p-big", "5000.00")["status"] == "denied"
    page = admin_client.get("/admin/payments")
    assert page.status_code == 200
    assert ids_in_order(page.text) == ["p-big", "p-old"]
    shown = text_of(page)
    assert re.search(
        r"insufficient_credit\s*: Not enough available credit for this purchase.", shown
    )
    assert "order-p-old" in shown and "buyer@example.com" in shown
    # In the admin's nav, marked as the current section.
    assert re.search(r'href="/admin/payments" aria-current="page"', page.text)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("decision=denied", ["p-big"]),
        ("decision=approved", ["p-two", "p-one"]),
        ("state=held", ["p-two"]),
        ("state=settled", ["p-one"]),
        ("q=p-two", ["p-two"]),
        ("q=order-p-one", ["p-one"]),
        ("q=BUYER@example.com", ["p-big", "p-two", "p-one"]),
        ("q=nobody@example.com", []),
        ("decision=bogus&state=bogus", ["p-big", "p-two", "p-one"]),  # bad values ignored
    ],
)
def test_filters(
    admin_client: FlaskClient,
    post: Post,
    buyer_account: str,
    clock: FixedClock,
    query: str,
    expected: list[str],
) -> None:
    for payment_id, value in (("p-one", "10.00"), ("p-two", "20.00"), ("p-big", "9000.00")):
        pay(post, payment_id, value)
        clock.advance(timedelta(minutes=1))
    settled = post("/payments/p-one/settlements", {"requestId": "s1", "value": "10.00"})
    assert settled.status_code == 200, settled.text
    assert ids_in_order(admin_client.get(f"/admin/payments?{query}").text) == expected


def test_filters_by_account_and_date(
    admin_client: FlaskClient, post: Post, buyer_account: str, clock: FixedClock
) -> None:
    pay(post, "p-today")
    today = clock().date()
    assert ids_in_order(admin_client.get(f"/admin/payments?account={buyer_account}").text) == [
        "p-today"
    ]
    assert ids_in_order(admin_client.get("/admin/payments?account=nope").text) == []
    tomorrow = (today + timedelta(days=2)).isoformat()
    assert ids_in_order(admin_client.get(f"/admin/payments?from={tomorrow}").text) == []
    yesterday = (today - timedelta(days=2)).isoformat()
    assert ids_in_order(
        admin_client.get(f"/admin/payments?from={yesterday}&to={tomorrow}").text
    ) == ["p-today"]


def test_the_list_is_paginated(
    admin_client: FlaskClient, post: Post, buyer_account: str, clock: FixedClock
) -> None:
    for n in range(27):
        pay(post, f"p-{n:02}", "1.00")
        clock.advance(timedelta(seconds=1))
    first = admin_client.get("/admin/payments")
    assert len(ids_in_order(first.text)) == 25 and ids_in_order(first.text)[0] == "p-26"
    second = admin_client.get("/admin/payments?page=2")
    assert ids_in_order(second.text) == ["p-01", "p-00"]


def test_a_review_is_linked_from_its_payment(
    admin_client: FlaskClient, post: Post, buyer_account: str, store: Callable[..., None]
) -> None:
    store(over_limit_review_enabled=True)
    assert pay(post, "p-review", "1500.00")["status"] == "undefined"
    listed = admin_client.get("/admin/payments")
    [anchor] = re.findall(r'href="/admin/reviews#(review-[0-9a-f]+)"', listed.text)
    assert f'id="{anchor}"' in admin_client.get("/admin/reviews").text
    detail = admin_client.get("/admin/payments/p-review")
    assert f'/admin/reviews#{anchor}"' in detail.text
    assert 'data-step="waiting"' in detail.text


def test_a_payments_timeline_and_its_refund(
    admin_client: FlaskClient, post: Post, buyer_account: str, db: Database, clock: FixedClock
) -> None:
    pay(post, "p-1", "300.00")
    clock.advance(timedelta(hours=1))
    assert (
        post("/payments/p-1/settlements", {"requestId": "s1", "value": "300.00"}).status_code == 200
    )
    clock.advance(timedelta(hours=1))
    page = admin_client.get("/admin/payments/p-1")
    assert page.status_code == 200
    assert re.findall(r'data-step="(\w+)"', page.text) == ["authorized", "settled"]
    assert "/refund" in page.text and "/cancel" not in page.text
    with db.transaction() as session:
        payment = session.get(Payment, "p-1")
        assert payment is not None and payment.reservation_id is not None
        reservation_id = payment.reservation_id
    path = f"/admin/accounts/{buyer_account}/purchases/{reservation_id}/refund"
    asked = post_form(admin_client, path, {"amount": "100", "payment": "p-1"})
    assert asked.status_code == 200, text_of(asked)
    done = post_form(admin_client, path, {**hidden_fields(asked.text), "confirmed": "1"})
    assert done.status_code == 302 and done.location.endswith("/admin/payments/p-1")
    page = admin_client.get("/admin/payments/p-1")
    assert re.findall(r'data-step="(\w+)"', page.text) == ["authorized", "settled", "refunded"]
    # A refund refused shows on the payment's page, with the amount typed kept.
    refused = post_form(admin_client, path, {"amount": "250", "payment": "p-1"})
    assert refused.status_code == 409
    assert "Timeline" in text_of(refused) and 'value="250"' in refused.text
    # The gateway's cancellation gives back the rest and shows as one more step.
    assert post("/payments/p-1/cancellations", {"requestId": "c1"}).status_code == 200
    steps = re.findall(r'data-step="(\w+)"', admin_client.get("/admin/payments/p-1").text)
    assert steps == ["authorized", "settled", "refunded", "refunded", "cancelled"]


def test_a_pre_authorization_is_cancelled_from_its_payment(
    admin_client: FlaskClient, post: Post, buyer_account: str, db: Database
) -> None:
    pay(post, "p-held", "120.00")
    page = admin_client.get("/admin/payments/p-held")
    assert "/cancel" in page.text and "/refund" not in page.text
    with db.transaction() as session:
        reservation = session.scalar(select(Reservation))
        assert reservation is not None
    path = f"/admin/accounts/{buyer_account}/purchases/{reservation.id}/cancel"
    asked = post_form(admin_client, path, {"payment": "p-held"})
    done = post_form(admin_client, path, {**hidden_fields(asked.text), "confirmed": "1"})
    assert done.location.endswith("/admin/payments/p-held")
    assert load_account(db, buyer_account).reserved_cents == 0
    steps = re.findall(r'data-step="(\w+)"', admin_client.get("/admin/payments/p-held").text)
    assert steps == ["authorized", "cancelled"]


def test_a_denied_payment_shows_why_and_offers_nothing(
    admin_client: FlaskClient, post: Post, buyer_account: str
) -> None:
    pay(post, "p-no", "9000.00")
    page = admin_client.get("/admin/payments/p-no")
    assert "insufficient_credit" in text_of(page)
    assert re.findall(r'data-step="(\w+)"', page.text) == ["denied"]
    assert "/refund" not in page.text and "/cancel" not in page.text


def test_an_unknown_payment_is_a_404_page(admin_client: FlaskClient) -> None:
    response = admin_client.get("/admin/payments/nope")
    assert response.status_code == 404
    assert "payment_not_found" in response.text


def test_a_viewer_reads_the_payments(
    client: FlaskClient, db: Database, post: Post, buyer_account: str
) -> None:
    from connector.access.users import create_user
    from tests.web.conftest import STAFF_PASSWORD, sign_in

    pay(post, "p-1", "10.00")
    with db.transaction() as session:
        create_user(session, email="viewer@store.example", password=STAFF_PASSWORD, role="viewer")
    sign_in(client, "viewer@store.example")
    assert client.get("/admin/payments").status_code == 200
    detail = client.get("/admin/payments/p-1")
    assert detail.status_code == 200 and "/cancel" not in detail.text
