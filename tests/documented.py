"""Checks of answers against our own OpenAPI document (``connector.api.openapi``).

``tests/api/conftest.py`` checks every API answer of its client; ``DocumentedClient`` here
is the test client ``tests/protocol/conftest.py`` gives every app of the protocol's tests,
so each protocol answer the suite sees must be one the document describes.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from openapi_schema_validator import OAS30Validator
from werkzeug.test import TestResponse

from connector.api.openapi import build_spec
from connector.api.routes import PREFIX


def deref(node: Any, document: dict[str, Any]) -> Any:
    """Inline every ``$ref`` (the document's schemas have no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return deref(document["components"]["schemas"][name], document)
        return {k: deref(v, document) for k, v in node.items()}
    if isinstance(node, list):
        return [deref(v, document) for v in node]
    return node


def plain(value: Any) -> Any:
    """Decimals as ints or floats, only for the JSON Schema validator's type checks."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def check_answer(
    document: dict[str, Any], operation: dict[str, Any], status: int, body: Any, what: str
) -> None:
    """Fail unless ``operation`` lists ``status`` and ``body`` fits its schema."""
    documented = operation["responses"].get(str(status))
    assert documented is not None, f"{what} answered {status}, which the document does not list"
    content = documented.get("content", {}).get("application/json")
    if content is None:
        return
    OAS30Validator(deref(content["schema"], document)).validate(plain(body))


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))


class Operations:
    """A document's operations (only the protocol's with ``protocol_only``), found by a
    request's method and path."""

    def __init__(self, document: dict[str, Any], *, protocol_only: bool = False) -> None:
        self.document = document
        self.operations = [
            (method.upper(), _pattern(path), op)
            for path, item in document["paths"].items()
            if not (protocol_only and path.startswith(PREFIX))
            for method, op in item.items()
        ]
        # The most literal template first (``/bulk/imports/accounts`` before ``/{id}``).
        self.operations.sort(key=lambda found: found[1].pattern.count("[^/]+"))

    def find(self, method: str, path: str) -> dict[str, Any] | None:
        for documented_method, pattern, op in self.operations:
            if documented_method == method.upper() and pattern.fullmatch(path):
                return op
        return None


class DocumentedClient(FlaskClient):
    """A test client that checks each protocol answer against the app's document."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response: TestResponse = super().open(*args, **kwargs)
        request = response.request
        app: Flask = self.application
        if "tests.documented" not in app.extensions:
            with app.app_context():
                app.extensions["tests.documented"] = Operations(build_spec(), protocol_only=True)
        operations: Operations = app.extensions["tests.documented"]
        operation = operations.find(request.method, request.path)
        if operation is not None:
            what = f"{request.method} {request.path}"
            body = response.get_json(silent=True) if response.is_json else response.get_data()
            check_answer(operations.document, operation, response.status_code, body, what)
        return response
