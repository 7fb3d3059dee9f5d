"""My Credits: signed links, one-time e-mail links, and the customer isolation rule."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.access.customer_links import mint_token
from connector.clock import utcnow
from connector.context import of
from connector.credit.accounts import close_account
from connector.credit.holders import add_holder, remove_holder
from connector.credit.invoices import pay_invoice
from connector.db import Database
from connector.errors import Conflict, NotFound, ValidationError
from connector.notify.outbox import OutboxMail
from tests.factories import Seeded, load_invoice
from tests.web.conftest import post_form, text_of

PAY = "https://pay.example/boleto/"


@pytest.fixture(autouse=True)
def _my_credits_on(store: Callable[..., None]) -> None:
    store(my_credits_enabled=True)


@dataclass(frozen=True)
class Minted:
    url: str
    expires_at: datetime


def mint(app: Flask, db: Database, account_id: str, **kwargs: Any) -> Minted:
    """A link as the API mints it (``POST .../mycredits-link``), with a chosen ``now``."""
    with (
        app.test_request_context(base_url="https://credit.store.example"),
        db.transaction() as session,
    ):
        token, expires_at = mint_token(session, account_id, secret=of(app).secret_key, **kwargs)
        path = url_for("mycredits.open_link", token=token)
        return Minted("https://credit.store.example" + path, expires_at)


def path_of(url: str) -> str:
    return url.removeprefix("https://credit.store.example")


def test_a_minted_link_opens_that_account_only(
    app: Flask, client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    mine = seed(email="me@shop.example", purchase_cents=12_345, payment_link=PAY + "mine")
    theirs = seed(email="them@shop.example", purchase_cents=54_321, payment_link=PAY + "theirs")
    link = mint(app, db, mine.account_id)
    assert link.url.startswith("https://credit.store.example/mycredits/link/")
    assert link.expires_at.microsecond == 0 and link.expires_at.tzinfo is not None
    opened = client.get(path_of(link.url))
    assert opened.status_code == 302 and opened.headers["Location"] == "/mycredits/"
    page = client.get("/mycredits/")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = text_of(page)
    assert "me@shop.example" in text and "R$123.45" in text
    assert "them@shop.example" not in text and "R$543.21" not in text

    pay = client.get(f"/mycredits/invoices/{mine.invoice_ids[0]}/pay")
    assert pay.status_code == 303 and pay.headers["Location"] == PAY + "mine"
    other = client.get(f"/mycredits/invoices/{theirs.invoice_ids[0]}/pay")
    assert other.status_code == 404
    assert client.get("/mycredits/invoices/no-such-invoice/pay").status_code == 404
    assert client.get("/admin/").status_code == 302  # a customer is not staff


def test_a_tampered_or_expired_link_is_refused(
    app: Flask, client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed()
    other = seed()
    path = path_of(mint(app, db, seeded.account_id).url)
    token = path.rsplit("/", 1)[1]
    payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["a"] == seeded.account_id
    claims["a"] = other.account_id  # someone else's account, with the old signature
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    forged = forged_payload.decode() + "." + signature
    for bad in (token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), forged, "x", token + "x"):
        response = client.get(f"/mycredits/link/{bad}")
        assert response.status_code == 403, bad
        assert "This link cannot be used" in response.text
    expired = mint(
        app, db, seeded.account_id, ttl=timedelta(minutes=5), now=utcnow() - timedelta(hours=1)
    )
    response = client.get(path_of(expired.url))
    assert response.status_code == 403 and "expired" in response.text
    assert client.get("/mycredits/").headers["Location"] == "/mycredits/signin"


def test_minting_refuses_unknown_closed_or_disabled(
    app: Flask, db: Database, seed: Callable[..., Seeded], store: Callable[..., None]
) -> None:
    seeded = seed()
    with pytest.raises(NotFound):
        mint(app, db, "nobody")
    with pytest.raises(ValidationError):
        mint(app, db, seeded.account_id, ttl=timedelta(days=31))
    with db.transaction() as session:
        close_account(session, seeded.account_id, force=True)
    with pytest.raises(Conflict):
        mint(app, db, seeded.account_id)
    store(my_credits_enabled=False)
    with pytest.raises(Conflict) as refused:
        mint(app, db, seed().account_id)
    assert refused.value.code == "my_credits_disabled"


def test_my_credits_is_hidden_when_the_store_disables_it(
    app: Flask,
    client: FlaskClient,
    db: Database,
    seed: Callable[..., Seeded],
    store: Callable[..., None],
) -> None:
    seeded = seed(payment_link=PAY + "1")
    link = mint(app, db, seeded.account_id)
    assert client.get(path_of(link.url)).status_code == 302
    store(my_credits_enabled=False)
    for path in (
        "/mycredits/",
        "/mycredits/signin",
        path_of(link.url),
        f"/mycredits/invoices/{seeded.invoice_ids[0]}/pay",
    ):
        assert client.get(path).status_code == 404, path
    assert post_form(client, "/mycredits/signin", {"email": "x@y.example"}).status_code == 404


def sign_in_link(db: Database, recipient: str) -> str:
    with db.transaction() as session:
        mails = session.scalars(select(OutboxMail).where(OutboxMail.recipient == recipient)).all()
    assert len(mails) == 1, mails
    found = re.search(r"https?://\S+/mycredits/signin/\S+", mails[0].body)
    assert found is not None
    return "/" + found.group(0).split("/", 3)[3]


def test_a_dependent_signs_in_by_email_and_sees_the_owners_account(
    client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed(email="owner@shop.example", purchase_cents=77_700)
    with db.transaction() as session:
        holder = add_holder(session, seeded.account_id, "dependent@shop.example")
    response = post_form(client, "/mycredits/signin", {"email": "Dependent@Shop.example"})
    assert response.status_code == 200 and "a sign-in link is on its way" in response.text
    path = sign_in_link(db, "dependent@shop.example")
    confirm = client.get(path)
    assert confirm.status_code == 200 and "Continue" in confirm.text  # a scanner's GET uses nothing
    assert post_form(client, path).headers["Location"] == "/mycredits/"
    assert "R$777.00" in text_of(client.get("/mycredits/"))
    # used once only
    other = client.application.test_client()
    assert post_form(other, path).status_code == 403
    # a removed dependent loses access at the next request
    with db.transaction() as session:
        remove_holder(session, seeded.account_id, holder.id)
    assert client.get("/mycredits/").headers["Location"] == "/mycredits/signin"


def test_an_unknown_email_gets_the_same_answer_and_no_mail(
    client: FlaskClient, db: Database
) -> None:
    response = post_form(client, "/mycredits/signin", {"email": "nobody@shop.example"})
    assert response.status_code == 200 and "a sign-in link is on its way" in response.text
    with db.transaction() as session:
        assert session.scalars(select(OutboxMail)).all() == []


def test_sign_in_links_expire_and_are_rate_limited(
    client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    from connector.access.customer_links import CustomerSignInToken

    seed(email="owner@shop.example")
    post_form(client, "/mycredits/signin", {"email": "owner@shop.example"})
    path = sign_in_link(db, "owner@shop.example")
    with db.transaction() as session:
        row = session.scalars(select(CustomerSignInToken)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
    refused = post_form(client, path)
    assert refused.status_code == 403 and "expired" in refused.text
    for _ in range(6):
        post_form(client, "/mycredits/signin", {"email": "owner@shop.example"})
    with db.transaction() as session:
        assert len(session.scalars(select(OutboxMail)).all()) == 5  # at most 5 an hour


def test_the_customer_pages_need_csrf_too(client: FlaskClient) -> None:
    assert client.post("/mycredits/signin", data={"email": "a@b.example"}).status_code == 400
    assert client.post("/mycredits/signout").status_code == 400


def test_paid_invoices_and_history_show(
    app: Flask, client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    from connector.credit.invoices import pay_invoice

    seeded = seed(purchase_cents=20_000, installments=2, settled_days_ago=40, payment_link=PAY)
    with db.transaction() as session:
        pay_invoice(session, seeded.invoice_ids[1])
    client.get(path_of(mint(app, db, seeded.account_id).url))
    page = client.get("/mycredits/").text
    paid = page.split('id="paid-title"')[1].split("</section>")[0]
    assert load_invoice(db, seeded.invoice_ids[1]).friendly_id in paid
    to_pay = page.split('id="open-title"')[1].split("</section>")[0]
    assert "badge-overdue" in to_pay and ">Pay</a>" in to_pay
    history = text_of(client.get("/mycredits/?from=2000-01-01")).split("Account history")[1]
    assert "Payment" in history and "Invoice" in history and "Done by" not in history


def test_closing_the_account_ends_its_links_and_sessions(
    app: Flask, client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed(email="me@shop.example")
    link = mint(app, db, seeded.account_id)
    assert client.get(path_of(link.url)).headers["Location"] == "/mycredits/"
    assert client.get("/mycredits/").status_code == 200  # signed in
    other = app.test_client()
    sent = post_form(other, "/mycredits/signin", {"email": "me@shop.example"})
    assert sent.status_code == 200
    with db.transaction() as session:
        mail = session.scalars(select(OutboxMail).order_by(OutboxMail.created_at)).all()[-1]
        close_account(session, seeded.account_id, force=True)
    # The open session ends at its next request, and neither link opens any more.
    assert client.get("/mycredits/").headers["Location"] == "/mycredits/signin"
    assert client.get(path_of(link.url)).status_code == 403
    token_path = re.search(r"/mycredits/signin/\S+", mail.body)
    assert token_path is not None
    redeemed = post_form(other, token_path.group(0))
    assert redeemed.status_code == 403
    assert other.get("/mycredits/").headers["Location"] == "/mycredits/signin"


def test_pix_codes_for_the_customers_own_open_invoices_when_the_store_takes_pix(
    app: Flask,
    client: FlaskClient,
    db: Database,
    seed: Callable[..., Seeded],
    store: Callable[..., None],
) -> None:
    mine = seed(email="me@shop.example", purchase_cents=12_345, installments=2)
    theirs = seed(email="them@shop.example", purchase_cents=54_321)
    first, second = mine.invoice_ids
    client.get(path_of(mint(app, db, mine.account_id).url))
    assert client.get(f"/mycredits/invoices/{first}/pix").status_code == 404  # no Pix yet
    assert "/pix" not in client.get("/mycredits/").text
    store(pix_key="+55 11 98765-4321", pix_merchant_name="Loja", pix_merchant_city="Recife")
    page = client.get(f"/mycredits/invoices/{first}/pix")
    assert page.status_code == 200 and "<svg" in page.text
    [payload] = re.findall(r'class="mono pix-code"[^>]*>([^<]+)</textarea>', page.text)
    assert payload.startswith("000201") and "0114+5511987654321" in payload
    assert "540561.73" in payload  # the first of two installments of 123.45
    assert client.get(f"/mycredits/invoices/{theirs.invoice_ids[0]}/pix").status_code == 404
    with db.transaction() as session:
        pay_invoice(session, second)
    assert client.get(f"/mycredits/invoices/{second}/pix").status_code == 404  # paid


def test_customers_choose_the_language_of_their_mails_or_none(
    app: Flask, client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    from connector.credit.models import Holder

    mine = seed(email="me@shop.example")
    client.get(path_of(mint(app, db, mine.account_id).url))
    page = client.get("/mycredits/")
    assert "me@shop.example" in text_of(page) and 'name="opted_out"' in page.text
    saved = post_form(client, "/mycredits/mail", {"language": "en", "opted_out": "1"})
    assert saved.status_code == 302
    with db.transaction() as session:
        owner = session.scalars(select(Holder).where(Holder.account_id == mine.account_id)).one()
        assert owner.language == "en" and owner.mail_opt_out_at is not None
