"""Accounts through HTTP: the public API's examples, our errors, and the figures."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from unittest.mock import ANY

from connector.clock import utcnow
from tests.api.conftest import DocumentedClient, Shop


def test_open_account_as_the_public_example_does(api: DocumentedClient) -> None:
    body = {
        "document": "11111111111",
        "documentType": "CPF",
        "email": "Ricardo@Teste.com.br",
        "creditLimit": "1100",
        "description": "Not applicable.",
        "tolerance": "0.2",
    }
    response = api.post("/accounts", json=body)
    assert response.status_code == 200
    assert response.get_json() == {
        "id": "11111111111_CPF",
        "email": "ricardo@teste.com.br",
        "document": "11111111111",
        "documentType": "CPF",
        "companyName": None,
        "status": "Open",
        "creditLimit": 1100,
        "tolerance": Decimal("0.2"),
        "balance": 0,
        "preAuthorizedCredit": 0,
        "availableCredit": 1100,
        "availableBalance": 1100,
        "description": "",
        "createdAt": ANY,
        "updatedAt": ANY,
    }
    assert api.get("/accounts/11111111111_CPF").get_json()["creditLimit"] == 1100


def test_amounts_as_numbers_or_written_text(api: DocumentedClient) -> None:
    for n, limit in enumerate([1100, "1.100,00", "1,100.00", "1100.00"]):
        body = {"email": f"n{n}@example.com", "creditLimit": limit, "document": str(n)}
        assert api.post("/accounts", json=body).get_json()["creditLimit"] == 1100


def test_open_account_errors_name_each_field(api: DocumentedClient, shop: Shop) -> None:
    bad = api.post(
        "/accounts",
        json={"email": "nope", "creditLimit": "12,34,5", "documentType": "RG", "extra": 1},
    )
    assert bad.status_code == 400
    assert bad.get_json()["error"] == {
        "code": "invalid_request",
        "message": ANY,
        "fields": {
            "email": ANY,
            "creditLimit": ANY,
            "documentType": ANY,
            "extra": "Unknown field.",
        },
    }
    missing = api.post("/accounts", json={})
    assert set(missing.get_json()["error"]["fields"]) == {"email", "creditLimit"}
    assert (
        api.post("/accounts", json={"email": "f@example.com", "creditLimit": 0.5}).status_code
        == 200
    )
    fraction = api.post("/accounts", json={"email": "g@example.com", "creditLimit": "0.001"})
    assert fraction.get_json()["error"]["fields"] == {"creditLimit": ANY}

    shop.account(7)
    again = api.post(
        "/accounts",
        json={
            "document": "000.000.007-87",  # buyer 7's, with its mask
            "documentType": "cpf",
            "email": "x@example.com",
            "creditLimit": 1,
        },
    )
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "account_exists"
    same_email = api.post("/accounts", json={"email": "BUYER7@example.com", "creditLimit": 1})
    assert same_email.status_code == 409


def test_unknown_account_is_404(api: DocumentedClient) -> None:
    for method, path, body in [
        ("GET", "/accounts/nope", None),
        ("PUT", "/accounts/nope", {"email": "a@example.com"}),
        ("DELETE", "/accounts/nope", None),
        ("PUT", "/accounts/nope/creditlimit", {"value": 1}),
        ("PUT", "/accounts/nope/tolerance", {"value": 0.1}),
        ("GET", "/accounts/nope/statements", None),
        ("PUT", "/accounts/nope/statements/s1", {"value": -1}),
        ("GET", "/accounts/nope/holders", None),
        ("POST", "/accounts/nope/holders", {"claims": {"email": "h@example.com"}}),
        ("GET", "/accounts/nope/invoices", None),
    ]:
        response = api.request(method, path, json=body)
        assert response.status_code == 404, (method, path)
        assert response.get_json()["error"]["code"] == "account_not_found"


def test_search_accounts_pages_and_filters(api: DocumentedClient, shop: Shop) -> None:
    ids = [shop.account(n)["id"] for n in range(1, 6)]
    page = api.get("/accounts?from=2&to=3").get_json()
    assert [a["id"] for a in page["data"]] == ids[1:3]
    assert page["summary"] == {"count": 5}
    assert [a["id"] for a in api.get("/accounts").get_json()["data"]] == ids  # oldest first
    assert [a["id"] for a in api.get("/accounts?email=BUYER3@example.com").get_json()["data"]] == [
        ids[2]
    ]
    either = api.get("/accounts?email=buyer1@example.com&document=00000000272&op=or")
    assert {a["id"] for a in either.get_json()["data"]} == {ids[0], ids[1]}
    both = api.get("/accounts?email=buyer1@example.com&document=00000000272")
    assert both.get_json() == {"data": [], "summary": {"count": 0}}
    assert api.delete(f"/accounts/{ids[4]}").status_code == 200
    assert api.get("/accounts").get_json()["summary"] == {"count": 4}
    closed = api.get("/accounts?status=Closed").get_json()
    assert [a["id"] for a in closed["data"]] == [ids[4]]
    bad = api.get("/accounts?from=x&to=0&status=Gone&sort=id")
    assert set(bad.get_json()["error"]["fields"]) == {"from", "to", "status", "sort"}
    assert len(api.get("/accounts?from=1&to=5000").get_json()["data"]) == 4  # pages cap at 1000
    assert api.get("/accounts?from=5&to=4").get_json() == {"data": [], "summary": {"count": 4}}


def test_update_account(api: DocumentedClient, shop: Shop) -> None:
    account = shop.account(1)
    body = {
        "email": "new@example.com",
        "document": "111.111.111-11",
        "documentType": "CPF",
        "creditLimit": 3400,
        "tolerance": 0.25,
    }
    updated = api.put(f"/accounts/{account['id']}", json=body).get_json()
    assert (
        updated["email"],
        updated["document"],
        updated["creditLimit"],
        updated["tolerance"],
    ) == (
        "new@example.com",
        "11111111111",
        3400,
        Decimal("0.25"),
    )
    assert api.put(f"/accounts/{account['id']}", json={"creditLimit": -1}).status_code == 400
    other = shop.account(2)
    taken = api.put(f"/accounts/{other['id']}", json={"email": "NEW@example.com"})
    assert taken.status_code == 409


def test_credit_limit_and_tolerance(api: DocumentedClient, shop: Shop) -> None:
    account = shop.account(1, limit="1000")
    changed = api.put(f"/accounts/{account['id']}/creditlimit", json={"value": "5.500,00"})
    assert changed.status_code == 200 and changed.get_json()["creditLimit"] == 5500
    tolerance = api.put(f"/accounts/{account['id']}/tolerance", json={"value": "0.3"})
    assert tolerance.get_json()["tolerance"] == Decimal("0.3")
    assert api.put(f"/accounts/{account['id']}/tolerance", json={"value": 1.5}).status_code == 400
    assert api.put(f"/accounts/{account['id']}/creditlimit", json={}).status_code == 400


def test_close_refuses_open_items_unless_forced(api: DocumentedClient, shop: Shop) -> None:
    account = shop.account(1)
    shop.buy(account["id"], 100)
    refused = api.delete(f"/accounts/{account['id']}")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "account_has_open_items"
    closed = api.delete(
        f"/accounts/{account['id']}?force=true",
        json={"document": "00000000191", "documentType": "CPF", "email": "buyer1@example.com"},
    )
    assert closed.status_code == 200 and closed.get_json()["status"] == "Closed"
    assert api.get(f"/accounts/{account['id']}").get_json()["status"] == "Closed"
    assert len(api.get(f"/accounts/{account['id']}/invoices").get_json()["data"]) == 1
    assert api.put(f"/accounts/{account['id']}/creditlimit", json={"value": 1}).status_code == 409
    assert api.delete(f"/accounts/{account['id']}", json={"bogus": 1}).status_code == 400


def test_statements_and_their_period(api: DocumentedClient, shop: Shop) -> None:
    account = shop.account(1, limit="1000")
    aid = account["id"]
    settled = shop.buy(aid, "100.00", installments=2)
    assert (
        api.post(f"/accounts/{aid}/invoices/{settled['invoices'][0]}/payments").status_code == 200
    )
    adjusted = api.put(f"/accounts/{aid}/statements/adj-1", json={"value": "-15"})
    assert adjusted.status_code == 200
    assert adjusted.get_json() == {"id": "adj-1", "value": "-15.00"}

    whole = api.get(f"/accounts/{aid}/statements").get_json()
    origins = [(e["origin"], e["value"]) for e in whole["statements"]]
    assert origins == [
        ("Credit", 1000),
        ("Invoice", -50),
        ("Invoice", -50),
        ("Payment", 50),
        ("Statement", -15),
    ]
    assert (whole["previousBalance"], whole["intervalBalance"], whole["currentBalance"]) == (
        0,
        -65,
        -65,
    )
    credit, invoice, *_rest, manual = whole["statements"]
    assert credit["metadata"] == {"kind": "Credit", "creditLimit": 1000, "tolerance": 0}
    assert invoice["metadata"]["numberOfInstallments"] == 2
    # A purchase without an order: its transaction id is its order id.
    assert invoice["metadata"]["orderId"] == invoice["metadata"]["transactionId"] == settled["id"]
    assert manual["doneBy"] == api.headers["X-VTEX-API-AppKey"]
    assert manual["metadata"] == {"kind": "Adjustment"}

    later = (utcnow() + timedelta(days=1)).date().isoformat()
    empty = api.get(f"/accounts/{aid}/statements?dateFrom={later}").get_json()
    assert empty == {
        "statements": [],
        "previousBalance": -65,
        "intervalBalance": 0,
        "currentBalance": -65,
    }
    assert api.get(f"/accounts/{aid}/statements?dateFrom=yesterday").status_code == 400


def test_adjustments_are_idempotent_by_statement_id(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1)["id"]
    assert api.put(f"/accounts/{aid}/statements/s-1", json={"value": -15}).status_code == 200
    assert api.put(f"/accounts/{aid}/statements/s-1", json={"value": "-15.0"}).status_code == 200
    assert api.get(f"/accounts/{aid}").get_json()["balance"] == -15
    conflict = api.put(f"/accounts/{aid}/statements/s-1", json={"value": -16})
    assert conflict.status_code == 409
    assert api.put(f"/accounts/{aid}/statements/s-2", json={"value": 0}).status_code == 400
    assert api.put(f"/accounts/{aid}/statements/s-3", json={"value": 20}).status_code == 200
    assert api.get(f"/accounts/{aid}").get_json()["balance"] == 5


def test_holders(api: DocumentedClient, shop: Shop) -> None:
    aid = shop.account(1)["id"]
    added = api.post(f"/accounts/{aid}/holders", json={"claims": {"email": "Dep@Example.com"}})
    assert added.status_code == 200
    holder = added.get_json()
    assert holder == {
        "id": ANY,
        "level": 2,
        "claims": {"email": "dep@example.com"},
        "createdAt": ANY,
    }
    listed = api.get(f"/accounts/{aid}/holders").get_json()
    assert [(h["level"], h["claims"]["email"]) for h in listed["data"]] == [
        (1, "buyer1@example.com"),
        (2, "dep@example.com"),
    ]
    again = api.post(f"/accounts/{aid}/holders", json={"claims": {"email": "dep@example.com"}})
    assert again.status_code == 409
    bad = api.post(f"/accounts/{aid}/holders", json={"claims": {"email": "x"}})
    assert bad.get_json()["error"]["fields"] == {"claims.email": ANY}
    assert api.post(f"/accounts/{aid}/holders", json={"email": "a@example.com"}).status_code == 400
    owner = listed["data"][0]["id"]
    assert api.delete(f"/accounts/{aid}/holders/{owner}").status_code == 409
    removed = api.delete(f"/accounts/{aid}/holders/{holder['id']}")
    assert removed.status_code == 200 and removed.get_json() == {"id": holder["id"]}
    assert api.delete(f"/accounts/{aid}/holders/{holder['id']}").status_code == 404


def test_positions_beyond_any_page_are_refused(api: DocumentedClient) -> None:
    huge = api.get("/accounts?from=9223372036854775809")
    assert huge.status_code == 400 and set(huge.get_json()["error"]["fields"]) == {"from"}
    assert api.get("/invoices?to=9223372036854775809").status_code == 400


def test_documents_are_checked_and_the_company_name_is_ours(api: DocumentedClient) -> None:
    """CPF and CNPJ by their check digits (the mask is optional), and ``companyName``, our
    extension: opened, changed, cleared and searched."""
    wrong = api.post(
        "/accounts",
        json={
            "email": "a@example.com",
            "creditLimit": 10,
            "document": "123",
            "documentType": "CPF",
        },
    )
    assert wrong.status_code == 400
    assert wrong.get_json()["error"]["code"] == "invalid_request"
    assert set(wrong.get_json()["error"]["fields"]) == {"document"}
    digits = api.post(
        "/accounts",
        json={
            "email": "b@example.com",
            "creditLimit": 10,
            "document": "11.222.333/0001-82",
            "documentType": "CNPJ",
        },
    )
    assert digits.status_code == 400 and "check digits" in str(digits.get_json()["error"])
    firm = api.post(
        "/accounts",
        json={
            "email": "c@example.com",
            "creditLimit": 10,
            "document": "12.ABC.345/01DE-35",
            "documentType": "cnpj",
            "companyName": " Comércio  Souza Ltda",
        },
    ).get_json()
    assert (firm["id"], firm["document"], firm["companyName"]) == (
        "12ABC34501DE35_CNPJ",
        "12ABC34501DE35",
        "Comércio Souza Ltda",
    )
    cuit = api.post(
        "/accounts",
        json={
            "email": "d@example.com",
            "creditLimit": 10,
            "document": "20-26756539-4",
            "documentType": "AR-CUIT",
        },
    )
    assert cuit.status_code == 400 and set(cuit.get_json()["error"]["fields"]) == {"document"}
    found = api.get("/accounts?companyName=souza").get_json()
    assert [a["id"] for a in found["data"]] == [firm["id"]]
    renamed = api.put(f"/accounts/{firm['id']}", json={"companyName": "Souza & Filhos"})
    assert renamed.get_json()["companyName"] == "Souza & Filhos"
    kept = api.put(f"/accounts/{firm['id']}", json={"creditLimit": 20}).get_json()
    assert kept["companyName"] == "Souza & Filhos"  # not sent: unchanged
    cleared = api.put(f"/accounts/{firm['id']}", json={"companyName": None}).get_json()
    assert cleared["companyName"] is None
    too_long = api.put(f"/accounts/{firm['id']}", json={"companyName": "x" * 201})
    assert too_long.status_code == 400 and "companyName" in too_long.get_json()["error"]["fields"]
