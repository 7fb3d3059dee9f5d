"""Staff roles in the admin: a viewer reads every page and changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from connector.access.users import create_user
from connector.db import Database
from tests.factories import Seeded, load_account
from tests.web.conftest import STAFF_PASSWORD, post_form, sign_in, text_of

VIEWER = "viewer@store.example"


@pytest.fixture
def viewer_client(client: FlaskClient, db: Database) -> FlaskClient:
    with db.transaction() as session:
        create_user(session, email=VIEWER, password=STAFF_PASSWORD, role="viewer")
    sign_in(client, VIEWER)
    return client


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/accounts", "/admin/invoices", "/admin/settings", "/admin/bulk"]
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
    assert "the viewer role may look but not change anything" in text_of(response)
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
