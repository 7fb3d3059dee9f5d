"""The OpenAPI document: complete, valid, rendered, and true to what the API answers."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from connector.api.openapi import build_spec, openapi_path
from connector.api.routes import OPERATIONS, PREFIX
from tests.api.conftest import DocumentedClient

# Generated requests per operation; raise it for a deeper run (SCHEMATHESIS_EXAMPLES=200).
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "15"))

PUBLIC_PATHS = {  # the public Customer Credit API's operations, as its reference lists them
    ("get", "/invoices"),
    ("get", "/accounts/{creditAccountId}/invoices"),
    ("get", "/accounts/{creditAccountId}/invoices/{invoiceId}"),
    ("put", "/accounts/{creditAccountId}/invoices/{invoiceId}"),
    ("delete", "/accounts/{creditAccountId}/invoices/{invoiceId}"),
    ("post", "/accounts/{creditAccountId}/invoices/{invoiceId}/payments"),
    ("put", "/accounts/{creditAccountId}/invoices/{invoiceId}/postponement"),
    ("get", "/accounts"),
    ("post", "/accounts"),
    ("get", "/accounts/{creditAccountId}"),
    ("put", "/accounts/{creditAccountId}"),
    ("delete", "/accounts/{creditAccountId}"),
    ("get", "/accounts/{creditAccountId}/statements"),
    ("put", "/accounts/{creditAccountId}/statements/{statementId}"),
    ("put", "/accounts/{creditAccountId}/creditlimit"),
    ("put", "/accounts/{creditAccountId}/tolerance"),
    ("post", "/accounts/{creditAccountId}/holders"),
    ("delete", "/accounts/{creditAccountId}/holders/{holderId}"),
    ("post", "/accounts/{creditAccountId}/transactions"),
    ("put", "/accounts/{creditAccountId}/transactions/{transactionId}"),
    ("delete", "/accounts/{creditAccountId}/transactions/{transactionId}"),
    ("put", "/accounts/{creditAccountId}/transactions/{transactionId}/settlement"),
    ("post", "/accounts/{creditAccountId}/transactions/{transactionId}/refunds"),
    ("get", "/storeconfig"),
    ("put", "/storeconfig"),
}


def _documented(app: Flask) -> dict[str, Any]:
    with app.app_context():
        return build_spec()


def test_every_route_is_in_the_document(app: Flask) -> None:
    document = _documented(app)
    routes = {
        (method.lower(), PREFIX + re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule[len(PREFIX) :]))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(PREFIX)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {
        (method, path) for path, operations in document["paths"].items() for method in operations
    }
    assert {(m, openapi_path(r[len(PREFIX) :])) for m, r in routes} == documented
    assert len(documented) == len(OPERATIONS)
    assert {(m, PREFIX + p) for m, p in PUBLIC_PATHS} <= documented


def test_the_document_is_valid_openapi_3(app: Flask) -> None:
    document = _documented(app)
    validate(document)
    assert document["openapi"].startswith("3.")
    assert set(document["components"]["securitySchemes"]) == {"appKey", "appToken"}


def test_the_document_and_its_page_are_served(api: DocumentedClient) -> None:
    served = api.client.get("/api/openapi.json")
    assert served.status_code == 200 and served.get_json()["paths"]
    page = api.client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "<script" not in html
    for path, operations in served.get_json()["paths"].items():
        for method in operations:
            assert f"{method.upper()} {path}" in html


@pytest.mark.slow
def test_answers_conform_to_the_document(app: Flask, admin_headers: dict[str, str]) -> None:
    """Generated requests to every operation: never a 500, always a documented answer."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(OPERATIONS)
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call(headers=admin_headers)
            # Credentials are tested on their own (test_auth); here every call is an admin's.
            # Rules the document cannot express (an e-mail's shape, a known status name)
            # rightly refuse some schema-valid values, so positive acceptance is not asked.
            case.validate_response(
                response, excluded_checks=[ignored_auth, positive_data_acceptance]
            )

        check()
