"""Staff sign-in, sessions, cookie flags and CSRF on every form."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from connector import create_app
from connector.context import of
from connector.db import Database
from tests.factories import Seeded, load_account, load_invoice
from tests.web.conftest import STAFF_EMAIL, STAFF_PASSWORD, csrf_of, post_form, sign_in


def test_pages_need_a_signed_in_user(client: FlaskClient, staff: str) -> None:
    for path in ("/admin/", "/admin/accounts", "/admin/invoices", "/admin/settings"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/admin/login?next=")
    response = client.get("/admin/accounts?q=x")
    assert response.headers["Location"] == "/admin/login?next=/admin/accounts?q%3Dx"


def test_a_change_without_a_session_changes_nothing(
    client: FlaskClient, staff: str, seed: Callable[..., Seeded], db: Database
) -> None:
    seeded = seed()
    response = post_form(client, f"/admin/invoices/{seeded.invoice_ids[0]}/pay")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert load_invoice(db, seeded.invoice_ids[0]).status == "Opened"


def test_sign_in_with_the_right_password_only(client: FlaskClient, staff: str) -> None:
    wrong = post_form(client, "/admin/login", {"email": STAFF_EMAIL, "password": "nope nope nope"})
    assert wrong.status_code == 401 and "Wrong e-mail or password." in wrong.text
    unknown = post_form(client, "/admin/login", {"email": "who@x.example", "password": "x" * 12})
    assert unknown.status_code == 401
    assert client.get("/admin/").status_code == 302
    ok = post_form(
        client,
        "/admin/login",
        {"email": STAFF_EMAIL.upper(), "password": STAFF_PASSWORD, "next": "/admin/settings"},
    )
    assert ok.status_code == 302 and ok.headers["Location"] == "/admin/settings"
    assert client.get("/admin/").status_code == 200


def test_sign_in_never_redirects_to_another_site(client: FlaskClient, staff: str) -> None:
    data = {"email": STAFF_EMAIL, "password": STAFF_PASSWORD, "next": "https://evil.example/"}
    assert post_form(client, "/admin/login", data).headers["Location"] == "/admin/"


def test_the_session_cookie_is_httponly_lax_and_secure(client: FlaskClient, staff: str) -> None:
    response = post_form(client, "/admin/login", {"email": STAFF_EMAIL, "password": STAFF_PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("connector_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Expires=" in cookie  # a session with a lifetime (CONNECTOR_SESSION_HOURS)


def test_secure_can_be_turned_off_for_plain_http(db: Database, tmp_path: Path) -> None:
    app = create_app(
        {
            "database_url": db.url,
            "instance_path": tmp_path,
            "secret_key": "k" * 40,
            "cookie_secure": False,
        }
    )
    client = app.test_client()
    response = client.get("/admin/login")
    assert "Secure" not in response.headers["Set-Cookie"]
    of(app).db.dispose()


def test_sign_out_ends_the_session(admin_client: FlaskClient) -> None:
    response = post_form(admin_client, "/admin/logout")
    assert response.status_code == 302
    assert admin_client.get("/admin/").status_code == 302


def test_a_password_change_or_disabling_ends_open_sessions(
    admin_client: FlaskClient, db: Database
) -> None:
    from connector.access.users import create_user, disable_user, set_password

    with db.transaction() as session:
        set_password(session, STAFF_EMAIL, "another long password")
    assert admin_client.get("/admin/").status_code == 302
    sign_in(admin_client, password="another long password")
    with db.transaction() as session:
        # Another admin, so this one is not the last (who may not be disabled).
        create_user(session, email="second@store.example", password="a very long secret")
        disable_user(session, STAFF_EMAIL)
    assert admin_client.get("/admin/").status_code == 302
    refused = post_form(
        admin_client, "/admin/login", {"email": STAFF_EMAIL, "password": "another long password"}
    )
    assert refused.status_code == 401


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_every_form_needs_the_csrf_token(
    admin_client: FlaskClient,
    seed: Callable[..., Seeded],
    db: Database,
    token: str | None,
) -> None:
    seeded = seed()
    invoice_id = seeded.invoice_ids[0]
    forms = [
        ("/admin/accounts/new", {"email": "new@x.example", "creditLimit": "10"}),
        (f"/admin/accounts/{seeded.account_id}/credit", {"creditLimit": "1", "tolerance": "0"}),
        (f"/admin/accounts/{seeded.account_id}/holders", {"email": "dep@x.example"}),
        (f"/admin/accounts/{seeded.account_id}/close", {"confirm": "1", "force": "1"}),
        (f"/admin/invoices/{invoice_id}/pay", {}),
        (f"/admin/invoices/{invoice_id}/cancel", {"confirm": "1"}),
        (f"/admin/invoices/{invoice_id}/details", {"observation": "x"}),
        ("/admin/settings", {"currency": "USD"}),
        ("/admin/reviews/nope/approve", {}),
        ("/admin/logout", {}),
        ("/admin/login", {"email": STAFF_EMAIL, "password": STAFF_PASSWORD}),
    ]
    for path, data in forms:
        if token is not None:
            data = {**data, "csrf_token": token}
        response = admin_client.post(path, data=data)
        assert response.status_code == 400, path
        assert "did not come from this site" in response.text
    account = load_account(db, seeded.account_id)
    assert (account.status, account.credit_limit_cents) == ("Open", 100_000)
    assert load_invoice(db, invoice_id).status == "Opened"
    assert admin_client.get("/admin/").status_code == 200  # still signed in


def test_the_token_of_one_session_does_not_serve_another(
    admin_client: FlaskClient, client: FlaskClient, staff: str, app: object
) -> None:
    stolen = csrf_of(admin_client)
    other = admin_client.application.test_client()
    response = other.post(
        "/admin/login",
        data={"csrf_token": stolen, "email": STAFF_EMAIL, "password": STAFF_PASSWORD},
    )
    assert response.status_code == 400


def test_pages_are_not_cached_framed_or_scripted(admin_client: FlaskClient) -> None:
    response = admin_client.get("/admin/")
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "<script" not in response.text
