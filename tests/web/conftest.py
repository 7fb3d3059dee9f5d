"""Fixtures of the web edge: a staff user, a signed-in client, forms posted as pages post."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from connector.access.users import create_user
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


def text_of(response: TestResponse) -> str:
    """The page's text without tags and with spaces collapsed, for assertions."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))
