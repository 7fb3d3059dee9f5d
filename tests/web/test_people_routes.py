"""People and keys from the admin: adding a user mails a one-time link, shown once too;
the set-password page names the minimum; roles, disabling, the last admin; the second
factor's enrolment and sign-in; keys created (the token shown once), listed, revoked."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.access.keys import ApiKey, verify_key
from connector.access.users import MIN_PASSWORD_LENGTH, StaffUser, create_user
from connector.clock import utcnow
from connector.db import Database
from connector.notify.outbox import OutboxMail
from tests.web.conftest import STAFF_EMAIL, STAFF_PASSWORD, post_form, sign_in, text_of

NEW = "new@store.example"


def _user(db: Database, email: str) -> StaffUser:
    with db.transaction() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.email == email)).one()
        session.expunge(user)
        return user


def _link_in(text: str) -> str:
    match = re.search(r"https?://\S+/admin/password/[\w-]+", text)
    assert match, text
    return match.group(0)


def test_an_admin_adds_a_user_who_sets_a_password_with_the_link(
    admin_client: FlaskClient, client: FlaskClient, db: Database
) -> None:
    response = post_form(
        admin_client, "/admin/people", {"email": NEW, "name": "Nina", "role": "finance"}
    )
    assert response.status_code == 201, response.text
    shown = _link_in(response.text)
    with db.transaction() as session:
        mail = session.scalars(select(OutboxMail).where(OutboxMail.recipient == NEW)).one()
        assert _link_in(mail.body) == shown
    assert "Nina" in text_of(admin_client.get("/admin/people"))
    assert shown not in admin_client.get("/admin/people").text  # shown once
    post_form(admin_client, "/admin/logout")
    path = shown.split("localhost", 1)[-1]
    page = client.get(path)
    assert page.status_code == 200 and f"at least {MIN_PASSWORD_LENGTH} characters" in text_of(page)
    short = post_form(client, path, {"password": "short", "confirm": "short"})
    assert short.status_code == 400
    assert f"at least {MIN_PASSWORD_LENGTH} characters" in text_of(short)
    differ = post_form(client, path, {"password": "x" * 12, "confirm": "y" * 12})
    assert differ.status_code == 400 and "The two passwords differ." in text_of(differ)
    done = post_form(
        client, path, {"password": "a new long password", "confirm": "a new long password"}
    )
    assert done.status_code == 302
    assert client.get(path).status_code == 410  # used once
    sign_in(client, NEW, "a new long password")
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/people").status_code == 403  # finance


def test_a_bad_user_is_refused_on_the_page(admin_client: FlaskClient) -> None:
    response = post_form(admin_client, "/admin/people", {"email": "x", "role": "root"})
    assert response.status_code == 400
    taken = post_form(admin_client, "/admin/people", {"email": STAFF_EMAIL, "role": "viewer"})
    assert taken.status_code == 409
    assert "A user with this e-mail already exists." in text_of(taken)


def test_disabling_ends_the_users_sessions_and_the_last_admin_stays(
    admin_client: FlaskClient, app: Flask, db: Database
) -> None:
    with db.transaction() as session:
        other = create_user(session, email=NEW, password=STAFF_PASSWORD, role="finance")
        other_id = other.id
    second = app.test_client()
    sign_in(second, NEW)
    assert second.get("/admin/").status_code == 200
    assert post_form(admin_client, f"/admin/people/{other_id}/disable").status_code == 302
    assert second.get("/admin/").status_code == 302  # signed out at once
    me = _user(db, STAFF_EMAIL)
    refused = post_form(admin_client, f"/admin/people/{me.id}/role", {"role": "viewer"})
    assert refused.status_code == 409
    assert "is the last active admin" in text_of(refused)
    assert post_form(admin_client, f"/admin/people/{me.id}/disable").status_code == 409
    assert post_form(admin_client, f"/admin/people/{other_id}/enable").status_code == 302
    assert (
        post_form(admin_client, f"/admin/people/{other_id}/role", {"role": "admin"}).status_code
        == 302
    )
    assert _user(db, NEW).role == "admin"


def test_a_reset_mails_a_new_link_and_voids_the_old(
    admin_client: FlaskClient, db: Database
) -> None:
    added = post_form(admin_client, "/admin/people", {"email": NEW, "role": "viewer"})
    first = _link_in(added.text)
    user = _user(db, NEW)
    reset = post_form(admin_client, f"/admin/people/{user.id}/reset")
    assert reset.status_code == 200
    second = _link_in(reset.text)
    assert second != first
    assert admin_client.get(first.split("localhost", 1)[-1]).status_code == 410
    assert admin_client.get(second.split("localhost", 1)[-1]).status_code == 200


def test_people_and_keys_are_an_admins_alone(client: FlaskClient, db: Database) -> None:
    with db.transaction() as session:
        create_user(session, email="fin@store.example", password=STAFF_PASSWORD, role="finance")
    sign_in(client, "fin@store.example")
    assert client.get("/admin/people").status_code == 403
    assert client.get("/admin/keys").status_code == 403
    assert post_form(client, "/admin/keys", {"label": "x", "role": "admin"}).status_code == 403
    assert post_form(client, "/admin/people", {"email": NEW, "role": "admin"}).status_code == 403
    nav = text_of(client.get("/admin/"))
    assert "People" not in nav and "Keys" not in nav


def test_a_user_enrols_a_second_factor_and_signs_in_with_it(
    admin_client: FlaskClient, client: FlaskClient, db: Database
) -> None:
    page = admin_client.get("/admin/me")
    assert page.status_code == 200 and "<svg" in page.text
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.text)
    assert secret
    totp = pyotp.TOTP(secret.group(1).replace(" ", ""))
    wrong = post_form(admin_client, "/admin/me/second-factor", {"code": "000000"})
    assert wrong.status_code == 400
    code = totp.now()
    assert post_form(admin_client, "/admin/me/second-factor", {"code": code}).status_code == 302
    assert _user(db, STAFF_EMAIL).has_second_factor
    post_form(admin_client, "/admin/logout")
    response = post_form(client, "/admin/login", {"email": STAFF_EMAIL, "password": STAFF_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/admin/login/code"
    )
    assert client.get("/admin/").status_code == 302  # not signed in before the code
    assert post_form(client, "/admin/login/code", {"code": code}).status_code == 401  # replay
    later = totp.at(utcnow() + timedelta(seconds=30))  # the next step: one step of drift
    assert post_form(client, "/admin/login/code", {"code": later}).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_wrong_codes_end_the_sign_in(
    admin_client: FlaskClient, client: FlaskClient, db: Database, app: Flask
) -> None:
    page = admin_client.get("/admin/me")
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.text)
    assert secret
    post_form(
        admin_client,
        "/admin/me/second-factor",
        {"code": pyotp.TOTP(secret.group(1).replace(" ", "")).now()},
    )
    sign_in(client)
    for _ in range(4):
        assert post_form(client, "/admin/login/code", {"code": "000000"}).status_code == 401
    locked = post_form(client, "/admin/login/code", {"code": "000000"})
    assert locked.status_code == 302 and locked.headers["Location"].endswith("/admin/login")
    assert "Too many wrong codes" in text_of(client.get("/admin/login"))
    # Another admin removes it (a lost phone): the password suffices again.
    with db.transaction() as session:
        create_user(session, email="two@store.example", password=STAFF_PASSWORD)
    other = app.test_client()
    sign_in(other, "two@store.example")
    user = _user(db, STAFF_EMAIL)
    removed = post_form(other, f"/admin/people/{user.id}/second-factor/remove")
    assert removed.status_code == 302
    assert not _user(db, STAFF_EMAIL).has_second_factor


def test_a_key_is_created_shown_once_listed_and_revoked(
    admin_client: FlaskClient, db: Database
) -> None:
    assert post_form(admin_client, "/admin/keys", {"label": "", "role": "read"}).status_code == 400
    assert (
        post_form(admin_client, "/admin/keys", {"label": "ERP", "role": "root"}).status_code == 400
    )
    created = post_form(admin_client, "/admin/keys", {"label": "ERP", "role": "invoices"})
    assert created.status_code == 201
    with db.transaction() as session:
        row = session.scalars(select(ApiKey)).one()
        app_key = row.id
        assert row.created_by == STAFF_EMAIL and row.label == "ERP"
    token = re.search(r'id="issued-token"[^>]*>([^<]+)<', created.text)
    assert token
    with db.transaction() as session:
        assert verify_key(session, app_key, token.group(1)) == "invoices"
    listed = admin_client.get("/admin/keys")
    assert app_key in listed.text and token.group(1) not in listed.text
    assert "ERP" in text_of(listed) and STAFF_EMAIL in text_of(listed)
    assert post_form(admin_client, f"/admin/keys/{app_key}/revoke").status_code == 302
    with db.transaction() as session:
        assert verify_key(session, app_key, token.group(1)) is None
    assert post_form(admin_client, "/admin/keys/ck_nope/revoke").status_code == 404


def test_a_keys_use_shows_as_last_used(
    admin_client: FlaskClient, client: FlaskClient, db: Database
) -> None:
    created = post_form(admin_client, "/admin/keys", {"label": "Reader", "role": "read"})
    token = re.search(r'id="issued-token"[^>]*>([^<]+)<', created.text)
    key = re.search(r'id="issued-key"[^>]*value="([^"]+)"', created.text)
    assert token and key
    assert "never" in text_of(admin_client.get("/admin/keys"))
    headers = {"X-VTEX-API-AppKey": key.group(1), "X-VTEX-API-AppToken": token.group(1)}
    assert client.get("/api/creditcontrol/accounts", headers=headers).status_code == 200
    with db.transaction() as session:
        assert session.get(ApiKey, key.group(1)).last_used_at is not None


@pytest.mark.parametrize("path", ["/admin/people", "/admin/keys", "/admin/me"])
def test_the_pages_open_in_spanish_and_portuguese(admin_client: FlaskClient, path: str) -> None:
    for lang in ("es", "pt"):
        admin_client.get(f"/lang/{lang}")
        assert admin_client.get(path).status_code == 200
