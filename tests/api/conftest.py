"""HTTP fixtures for the API: a client that checks every answer against the OpenAPI document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_schema_validator import OAS30Validator
from werkzeug.test import TestResponse

from connector.api.openapi import build_spec
from tests.documented import deref, plain
from tests.factories import valid_cpf

BASE = "/api/creditcontrol"


class DocumentedClient:
    """A test client whose every API answer must be one the OpenAPI document describes."""

    def __init__(self, app: Flask, headers: dict[str, str]) -> None:
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.headers = headers
        with app.app_context():
            self.document = build_spec()
        self.operations = {
            op["operationId"]: op
            for path in self.document["paths"].values()
            for op in path.values()
        }

    def request(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = self.client.open(BASE + path, method=method, headers=headers, **kwargs)
        self.check(method, BASE + path.split("?")[0], response)
        return response

    def check(self, method: str, path: str, response: TestResponse) -> None:
        adapter = self.app.url_map.bind("localhost")
        endpoint, _args = adapter.match(path, method=method)
        operation = self.operations[endpoint.split(".", 1)[1]]
        documented = operation["responses"].get(str(response.status_code))
        assert documented is not None, (
            f"{method} {path} answered {response.status_code}, which the document does not list"
        )
        if "text/csv" in documented.get("content", {}):
            assert response.mimetype == "text/csv", f"{method} {path}: not the documented CSV"
            return
        content = documented.get("content", {}).get("application/json")
        if content is None:
            assert response.get_data() == b"", f"{method} {path}: a body where none is documented"
            return
        schema = deref(content["schema"], self.document)
        body = response.get_json()
        OAS30Validator(schema).validate(plain(body))

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api(app: Flask, admin_headers: dict[str, str]) -> DocumentedClient:
    """An admin client; pass ``headers=`` to a call to speak as another key."""
    return DocumentedClient(app, admin_headers)


@dataclass
class Shop:
    """Builds accounts and purchases through the API, as an integration would."""

    api: DocumentedClient

    def account(self, n: int = 1, limit: Any = "1000", **extra: Any) -> dict[str, Any]:
        body = {
            "document": valid_cpf(n),
            "documentType": "CPF",
            "email": f"buyer{n}@example.com",
            "creditLimit": limit,
            **extra,
        }
        response = self.api.post("/accounts", json=body)
        assert response.status_code == 200, response.get_json()
        account: dict[str, Any] = response.get_json()
        return account

    def buy(self, account_id: str, value: Any, installments: int = 1) -> dict[str, Any]:
        """Reserve and settle a purchase; return the settlement answer."""
        reserved = self.api.post(
            f"/accounts/{account_id}/transactions",
            json={"value": value, "settle": True, "installments": installments},
        )
        assert reserved.status_code == 200, reserved.get_json()
        tid = reserved.get_json()["id"]
        settled = self.api.put(f"/accounts/{account_id}/transactions/{tid}/settlement", json={})
        assert settled.status_code == 200, settled.get_json()
        result: dict[str, Any] = settled.get_json()
        return result


@pytest.fixture
def shop(api: DocumentedClient) -> Shop:
    return Shop(api)
