"""Bad input is a 4xx in the API's error shape, never a 500 and never a half-done change."""

from __future__ import annotations

from unittest.mock import ANY

from tests.api.conftest import DocumentedClient, Shop


def test_bodies_that_are_not_json_objects(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1)["id"]
    path = f"/accounts/{aid}/creditlimit"
    broken = api.put(path, data="{value: 1", content_type="application/json")
    assert broken.status_code == 400
    assert broken.get_json()["error"] == {
        "code": "invalid_request",
        "message": ANY,
        "fields": {"body": "not valid JSON"},
    }
    assert api.put(path, json=[1, 2]).get_json()["error"]["fields"] == {"body": "not an object"}
    # A JSON body without the content type is read all the same.
    plain = api.put(path, data='{"value": "2000"}', content_type="text/plain")
    assert plain.status_code == 200 and plain.get_json()["creditLimit"] == 2000
    assert api.put(path, data="").get_json()["error"]["fields"] == {"value": ANY}


def test_http_errors_under_the_api_are_json(api: DocumentedClient) -> None:
    missing = api.client.get("/api/creditcontrol/nowhere", headers=api.headers)
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    wrong = api.client.patch("/api/creditcontrol/accounts", headers=api.headers)
    assert wrong.status_code == 405
    assert wrong.get_json()["error"]["code"] == "method_not_allowed"
    elsewhere = api.client.get("/nowhere")
    assert elsewhere.status_code == 404 and elsewhere.mimetype == "text/html"


def test_a_refused_change_leaves_nothing_behind(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1, limit="100")["id"]
    before = api.get(f"/accounts/{aid}/statements").get_json()
    refused = api.put(f"/accounts/{aid}", json={"creditLimit": 500, "email": "buyer2@example.com"})
    assert refused.status_code == 200  # a free e-mail: both change
    shop.account(3)
    refused = api.put(f"/accounts/{aid}", json={"creditLimit": 900, "email": "buyer3@example.com"})
    assert refused.status_code == 409
    after = api.get(f"/accounts/{aid}").get_json()
    assert (after["creditLimit"], after["email"]) == (500, "buyer2@example.com")
    statements = api.get(f"/accounts/{aid}/statements").get_json()["statements"]
    assert len(statements) == len(before["statements"]) + 1  # only the first change's entry


def test_numbers_too_long_to_compute_with_are_refused_at_once(
    api: DocumentedClient, shop: Shop
) -> None:
    aid = shop.account(1)["id"]
    for number in ("1e999990", "1e99999999", "1e-999999", "1" + "0" * 60):
        response = api.put(
            f"/accounts/{aid}/creditlimit",
            data='{"value": %s}' % number,  # noqa: UP031 (a raw JSON number)
            content_type="application/json",
        )
        assert response.status_code == 400, number
        assert response.get_json()["error"]["fields"] == {"value": ANY}
    huge_count = api.post(
        f"/accounts/{aid}/transactions",
        data='{"value": 1, "installments": 1e999990}',
        content_type="application/json",
    )
    assert huge_count.get_json()["error"]["fields"] == {"installments": ANY}


def test_moments_beyond_the_calendar_are_refused(api: DocumentedClient) -> None:
    for moment in ("9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00", "2026-02-30"):
        response = api.get(f"/invoices?dueDateFrom={moment.replace('+', '%2B')}")
        assert response.status_code == 400, moment
        assert response.get_json()["error"]["fields"] == {"dueDateFrom": ANY}


def test_nul_characters_never_reach_the_database(api: DocumentedClient, shop: Shop) -> None:
    """PostgreSQL text cannot hold NUL, nor UTF-8 a lone surrogate: refused at the edge,
    on both databases."""
    aid = shop.account(1)["id"]
    reason = "must not contain NUL or unpaired surrogate characters"
    body = api.post("/accounts", json={"email": "a@example.com", "creditLimit": 1, "id": "a\x00"})
    assert body.get_json()["error"]["fields"] == {"id": reason}
    lone = api.post(
        "/accounts",
        data=b'{"email": "a@example.com", "creditLimit": 1, "id": "a\\ud800"}',
        content_type="application/json",
    )
    assert lone.status_code == 400 and lone.get_json()["error"]["fields"] == {"id": reason}
    query = api.get("/invoices?observation=x%00y")
    assert query.get_json()["error"]["fields"] == {"observation": ANY}
    assert api.get("/accounts/a%00b").status_code == 400
    assert api.get("/accounts/" + "a" * 121).status_code == 400
    settings = api.put("/storeconfig", json={"paymentInstructions": "pay\x00"})
    assert settings.get_json()["error"]["fields"] == {"paymentInstructions": ANY}
    holder = api.post(f"/accounts/{aid}/holders", json={"claims": {"email": "x\x00@example.com"}})
    assert holder.get_json()["error"]["fields"] == {"claims.email": ANY}
