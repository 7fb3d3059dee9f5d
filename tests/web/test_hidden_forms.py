"""Pages hide the forms a role may not use (the server still refuses them): a viewer sees
no form that changes anything; finance sees no settings form, connections' revoke,
people or keys."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from connector.access.users import create_user
from connector.db import Database
from tests.factories import Seeded
from tests.web.conftest import STAFF_PASSWORD, sign_in

CHANGES = (
    "/credit",
    "/details",
    "/holders",
    "/close",
    "/pay",
    "/cancel",
    "/postpone",
    "/bulk/imports",
    "/settings",
    "/people",
    "/keys",
)


def _client_of(client: FlaskClient, db: Database, role: str) -> FlaskClient:
    with db.transaction() as session:
        create_user(session, email=f"{role}@store.example", password=STAFF_PASSWORD, role=role)
    sign_in(client, f"{role}@store.example")
    return client


def _post_actions(html: str) -> list[str]:
    """Where the page's POST forms go (signing out aside)."""
    import re

    actions = []
    for form in re.finditer(r"<form[^>]*>", html):
        tag = form.group(0)
        if 'method="post"' in tag and "/logout" not in tag:
            action = re.search(r'action="([^"]*)"', tag)
            actions.append(action.group(1) if action else "(this page)")
    return actions


def _pages(seeded: Seeded) -> list[str]:
    return [
        "/admin/",
        "/admin/accounts",
        f"/admin/accounts/{seeded.account_id}",
        "/admin/invoices",
        f"/admin/invoices/{seeded.invoice_ids[0]}",
        "/admin/reviews",
        "/admin/bulk",
        "/admin/settings",
        "/admin/connections",
    ]


def test_a_viewer_sees_no_form_that_changes_anything(
    client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    viewer = _client_of(client, db, "viewer")
    seeded = seed()
    for path in _pages(seeded):
        page = viewer.get(path)
        assert page.status_code == 200, path
        assert _post_actions(page.text) == [], path
        assert "Save settings" not in page.text and "New account" not in page.text
    # Their own page's second factor is theirs to turn on.
    assert _post_actions(viewer.get("/admin/me").text) == ["/admin/me/second-factor"]


def test_finance_sees_credit_forms_but_not_the_stores(
    client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    finance = _client_of(client, db, "finance")
    seeded = seed()
    account = _post_actions(finance.get(f"/admin/accounts/{seeded.account_id}").text)
    assert any(action.endswith("/credit") for action in account)
    invoice = _post_actions(finance.get(f"/admin/invoices/{seeded.invoice_ids[0]}").text)
    assert any(action.endswith("/pay") for action in invoice)
    settings = finance.get("/admin/settings")
    assert _post_actions(settings.text) == []  # the values, read only
    assert "Save settings" not in settings.text and " disabled>" in settings.text
    nav = finance.get("/admin/").text
    assert "/admin/people" not in nav and "/admin/keys" not in nav


@pytest.mark.parametrize("path", ["/admin/settings", "/admin/people", "/admin/keys"])
def test_an_admin_sees_every_form(admin_client: FlaskClient, path: str) -> None:
    page = admin_client.get(path)
    assert page.status_code == 200 and _post_actions(page.text)
    assert " disabled>" not in page.text
