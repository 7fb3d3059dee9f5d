"""``POST /accounts/{id}/mycredits-link``: the store mints a customer's signed link."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from connector.clock import utcnow
from tests.api.conftest import DocumentedClient, Shop


def test_a_minted_link_opens_the_customer_page(
    api: DocumentedClient, shop: Shop, headers_for: Callable[[str], dict[str, str]]
) -> None:
    account = shop.account()
    assert api.put("/storeconfig", json={"myCreditsEnabled": True}).status_code == 200
    response = api.post(f"/accounts/{account['id']}/mycredits-link", json={"expiresIn": 3600})
    assert response.status_code == 200
    link = response.get_json()
    expires = datetime.fromisoformat(link["expiresAt"].replace("Z", "+00:00"))
    assert timedelta(minutes=59) < expires - utcnow() <= timedelta(hours=1)
    page = api.client.get(link["url"].split("localhost", 1)[1], follow_redirects=True)
    assert page.status_code == 200
    assert account["email"] in page.get_data(as_text=True)
    default = api.post(f"/accounts/{account['id']}/mycredits-link")  # no body: 24 hours
    assert default.status_code == 200
    reader = api.post(f"/accounts/{account['id']}/mycredits-link", headers=headers_for("read"))
    assert reader.status_code == 403


def test_links_are_refused_where_they_cannot_work(api: DocumentedClient, shop: Shop) -> None:
    account = shop.account()
    disabled = api.post(f"/accounts/{account['id']}/mycredits-link")
    assert disabled.status_code == 409
    assert disabled.get_json()["error"]["code"] == "my_credits_disabled"
    api.put("/storeconfig", json={"myCreditsEnabled": True})
    assert api.post("/accounts/nope/mycredits-link").status_code == 404
    too_long = api.post(f"/accounts/{account['id']}/mycredits-link", json={"expiresIn": 10**9})
    assert too_long.status_code == 400 and "expiresIn" in too_long.get_json()["error"]["fields"]
    assert api.delete(f"/accounts/{account['id']}").status_code == 200
    closed = api.post(f"/accounts/{account['id']}/mycredits-link")
    assert closed.status_code == 409 and closed.get_json()["error"]["code"] == "account_closed"
