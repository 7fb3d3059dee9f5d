"""Every admin page renders for a signed-in user, in each language."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.factories import Seeded


@pytest.mark.parametrize("lang", ["en", "es", "pt"])
def test_every_admin_page_renders(
    admin_client: FlaskClient, seed: Callable[..., Seeded], lang: str
) -> None:
    seeded = seed(installments=3, settled_days_ago=45)
    admin_client.get(f"/language/{lang}")
    pages = [
        "/admin/",
        "/admin/accounts",
        "/admin/accounts?q=buyer&overdue=1&sort=available&dir=asc",
        "/admin/accounts/new",
        f"/admin/accounts/{seeded.account_id}",
        f"/admin/accounts/{seeded.account_id}?from=2020-01-01&to=2099-12-31",
        "/admin/invoices",
        "/admin/invoices?status=Overdue&status=Paid&sort=due&dir=asc&due_from=2020-01-01",
        f"/admin/invoices/{seeded.invoice_ids[0]}",
        "/admin/reviews",
        "/admin/bulk",
        "/admin/settings",
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, (page, response.text[:2000])
        assert f'<html lang="{lang}">' in response.text
