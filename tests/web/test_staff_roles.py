"""Staff roles in the admin: a viewer reads every page and changes nothing; finance changes
accounts and invoices but not the store's settings or its connections."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from connector.access.users import create_user
from connector.db import Database
from tests.factories import Seeded, load_account
from tests.web.conftest import STAFF_PASSWORD, post_form, sign_in, text_of

VIEWER = "viewer@store.example"
FINANCE = "finance@store.example"


@pytest.fixture
def viewer_client(client: FlaskClient, db: Database) -> FlaskClient:
    with db.transaction() as session:
        create_user(session, email=VIEWER, password=STAFF_PASSWORD, role="viewer")
    sign_in(client, VIEWER)
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/accounts",
        "/admin/invoices",
        "/admin/settings",
        "/admin/bulk",
        "/admin/audit",
    ],
)
def test_a_viewer_reads_every_page(viewer_client: FlaskClient, path: str) -> None:
    assert viewer_client.get(path).status_code == 200


def test_a_viewer_changes_nothing(
    viewer_client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed(limit_cents=100_000)
    response = post_form(
        viewer_client,
        f"/admin/accounts/{seeded.account_id}/credit",
        {"creditLimit": "5000", "tolerance": "0"},
    )
    assert response.status_code == 403
    assert "the viewer role may not do this" in text_of(response)
    assert load_account(db, seeded.account_id).credit_limit_cents == 100_000
    assert post_form(viewer_client, "/admin/settings", {"currency": "USD"}).status_code == 403
    # Signing out is not a change.
    assert post_form(viewer_client, "/admin/logout").status_code == 302


def test_an_admin_still_changes_things(
    admin_client: FlaskClient, seed: Callable[..., Seeded], db: Database
) -> None:
    seeded = seed(limit_cents=100_000)
    response = post_form(
        admin_client,
        f"/admin/accounts/{seeded.account_id}/credit",
        {"creditLimit": "5000", "tolerance": "0"},
    )
    assert response.status_code == 302, response.text
    assert load_account(db, seeded.account_id).credit_limit_cents == 500_000


@pytest.fixture
def finance_client(client: FlaskClient, db: Database) -> FlaskClient:
    with db.transaction() as session:
        create_user(session, email=FINANCE, password=STAFF_PASSWORD, role="finance")
    sign_in(client, FINANCE)
    return client


def test_finance_changes_credit_but_not_the_store(
    finance_client: FlaskClient, seed: Callable[..., Seeded], db: Database
) -> None:
    seeded = seed(limit_cents=100_000)
    response = post_form(
        finance_client,
        f"/admin/accounts/{seeded.account_id}/credit",
        {"creditLimit": "5000", "tolerance": "0"},
    )
    assert response.status_code == 302, response.text
    assert load_account(db, seeded.account_id).credit_limit_cents == 500_000
    refused = post_form(finance_client, "/admin/settings", {"currency": "USD"})
    assert refused.status_code == 403
    assert "the finance role may not do this" in text_of(refused)
    assert post_form(finance_client, "/admin/connections/nope/revoke").status_code == 403


def test_every_admin_form_declares_what_it_needs(app: Flask) -> None:
    """A form nobody classified falls to admins alone; this lists the ones that did."""
    from connector.web.admin.base import _NEEDS

    posts = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("admin.") and "POST" in (rule.methods or ())
    }
    # The public ones: signing in, its second step, setting a password with a link.
    assert posts - set(_NEEDS) == {"admin.login", "admin.login_code", "admin.set_password"}
