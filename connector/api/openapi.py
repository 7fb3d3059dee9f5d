"""The OpenAPI 3 document, generated from the declared operations and their schemas.

``/api/openapi.json`` serves it; ``/api/docs`` renders it as plain HTML on the server
(``connector.api.docs_page``), so the page needs no script, no build step and no network.
Other edges add their operations through ``AppContext.openapi_parts`` (the payment
provider protocol: ``connector.protocol.openapi``). Each operation carries real exchanges
as examples, recorded from the app by ``tests/api/test_openapi_examples.py`` into
``openapi_examples.json`` beside this module, which that test keeps true.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, Response, jsonify
from marshmallow import fields

from connector import jsonio
from connector.api.docs_page import render_html
from connector.api.routes import OPERATIONS, PATH_NAMES, PREFIX, Operation
from connector.api.schemas.common import Body, ErrorOut
from connector.context import current
from connector.wire import Cents, Fraction, Rate, openapi_number

EXAMPLES = Path(__file__).with_name("openapi_examples.json")
ERROR_TEXT = {
    400: "Invalid request: error.fields names each bad field",
    401: "Missing or unknown credentials",
    403: "The key's role does not allow this",
    404: "Not found",
    409: "Conflicts with the current state",
    422: "Refused by the credit rules",
}
_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number"}
_RULE_ARG = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")

DESCRIPTION = """The customer credit connector's HTTP interface: the payment provider
protocol the checkout's gateway calls, and the Customer Credit REST API, compatible with
the public Customer Credit API (the same paths under `/api/creditcontrol`, the same JSON
names).

Authenticate with `X-VTEX-API-AppKey` and `X-VTEX-API-AppToken`, or
`X-PROVIDER-API-AppKey` and `X-PROVIDER-API-AppToken`: the configured pair (an admin), or
a key issued by `connector keys create --role admin|accounts|invoices|read|gateway`. Each
operation names the permission it needs and the roles that grant it.

Amounts are JSON numbers in currency units (format `decimal`), never floats; on input a
string such as `"1100"` or `"1.100,00"` is read too. Rates are fractions (0.1 is 10 %).
The API's errors are `{"error": {"code", "message", "fields"?}}`; the protocol's are
`{"status": "error", "code", "message"}`.
"""

TAGS = {  # the API's tags, in the page's order, after the parts' own
    "Accounts": "Credit accounts, their limits, holders and statements.",
    "Transactions": "Pre-authorizations of the API: reserve, settle, refund, cancel.",
    "Invoices": "One invoice per installment of a settled purchase: search, pay, postpone.",
    "Checkout": "What a buyer may spend.",
    "Store configuration": "The store's settings.",
    "Bulk": "CSV templates, imports and exports.",
}
# Each header pair is one alternative: (key scheme, token scheme, key header, token header).
CREDENTIALS = (
    ("appKey", "appToken", "X-VTEX-API-AppKey", "X-VTEX-API-AppToken"),
    ("providerAppKey", "providerAppToken", "X-PROVIDER-API-AppKey", "X-PROVIDER-API-AppToken"),
)
DocumentPart = Callable[[APISpec], None]


def openapi_path(rule: str) -> str:
    return PREFIX + _RULE_ARG.sub(lambda m: "{" + PATH_NAMES.get(m[1], m[1]) + "}", rule)


def _path_parameters(rule: str) -> list[dict[str, Any]]:
    return [
        {
            "in": "path",
            "name": PATH_NAMES.get(name, name),
            "required": True,
            "schema": {"type": "string"},
        }
        for name in _RULE_ARG.findall(rule)
    ]


def _error(status: int) -> dict[str, Any]:
    return {
        "description": ERROR_TEXT[status],
        "content": {"application/json": {"schema": "ErrorOut"}},
    }


def _operation(op: Operation) -> dict[str, Any]:
    parameters = _path_parameters(op.rule)
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    ok: dict[str, Any] = {"description": "Accepted" if op.success == 202 else "OK"}
    if op.csv:
        ok["content"] = {"text/csv": {"schema": {"type": "string"}}}
    elif op.response is not None:
        ok["content"] = {"application/json": {"schema": op.response}}
    else:
        ok["description"] = "OK, without a body"
    statuses = {401, 403, *op.errors}
    if op.query is not None or op.body is not None or op.form is not None or "<" in op.rule:
        statuses.add(400)  # a path id longer than its column is refused too
    if "<" in op.rule:
        statuses.add(404)
    doc: dict[str, Any] = {
        "operationId": op.endpoint,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": parameters,
        "responses": {
            str(op.success): ok,
            **{str(code): _error(code) for code in sorted(statuses)},
        },
        "x-permission": op.permission,
    }
    if op.description:
        doc["description"] = op.description
    if op.body is not None:
        doc["requestBody"] = {
            "required": op.method != "delete",
            "content": {"application/json": {"schema": op.body}},
        }
    if op.form is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": op.form}},
        }
    return doc


def _types(converter: Any, field: Any, **kwargs: Any) -> dict[str, Any]:
    """Amounts, rates and counts as JSON numbers (in request bodies, the strings read too);
    a constant as its value's type."""
    if isinstance(field, fields.Constant):
        return {"type": _JSON_TYPES.get(type(field.constant), "object")}
    said = kwargs["ret"].get("description")
    return openapi_number(field, description=said, request=isinstance(field.root, Body))


def build_spec(parts: Iterable[DocumentPart] | None = None) -> dict[str, Any]:
    """The document: the ``parts`` other edges add (by default the current app's), then
    the API's operations, each with its recorded examples."""
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Customer credit connector",
        version="1.0",
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": DESCRIPTION},
        servers=[{"url": "/"}],
        security=[{key: [], token: []} for key, token, _, _ in CREDENTIALS],
    )
    converter: Any = plugin.converter  # apispec's converter is untyped
    for kind in (Cents, Rate, Fraction):
        converter.map_to_openapi_type(kind, "number", None)
    converter.add_attribute_function(_types)
    for key, token, key_header, token_header in CREDENTIALS:
        for name, header in ((key, key_header), (token, token_header)):
            spec.components.security_scheme(
                name, {"type": "apiKey", "in": "header", "name": header}
            )
    spec.components.schema("ErrorOut", schema=ErrorOut)
    for part in current().openapi_parts if parts is None else parts:
        part(spec)
    for tag, description in TAGS.items():
        spec.tag({"name": tag, "description": description})
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(openapi_path(op.rule), {})[op.method] = _operation(op)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document: dict[str, Any] = spec.to_dict()
    _with_examples(document, _recorded())
    return document


@cache
def _recorded() -> dict[str, list[dict[str, Any]]]:
    """The recorded exchanges by operation id (see the module's docstring)."""
    if not EXAMPLES.exists():
        return {}
    recorded: dict[str, list[dict[str, Any]]] = jsonio.loads(EXAMPLES.read_text("utf-8"))[
        "operations"
    ]
    return recorded


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _with_examples(document: dict[str, Any], recorded: dict[str, list[dict[str, Any]]]) -> None:
    """Each operation's exchanges as ``x-examples`` (the page shows them whole), and their
    bodies as the standard examples of its request body and answers."""
    for operations in document["paths"].values():
        for op in operations.values():
            exchanges = recorded.get(op["operationId"], [])
            if exchanges:
                op["x-examples"] = exchanges
            for exchange in exchanges:
                slug = _slug(exchange["title"])
                request = op.get("requestBody", {}).get("content", {})
                answer = op["responses"].get(str(exchange["status"]), {}).get("content", {})
                for content, value in (
                    (request, exchange.get("body")),
                    (answer, exchange.get("answer")),
                ):
                    if content and value is not None:
                        examples = next(iter(content.values())).setdefault("examples", {})
                        examples[slug] = {"summary": exchange["title"], "value": value}


def _document() -> dict[str, Any]:
    extras = current().extras
    if "openapi" not in extras:
        extras["openapi"] = build_spec()
    document: dict[str, Any] = extras["openapi"]
    return document


def init_app(app: Flask) -> None:
    @app.get("/api/openapi.json")
    def openapi_document() -> Response:
        return jsonify(_document())

    @app.get("/api/docs")
    def openapi_page() -> Response:
        return Response(render_html(_document()), mimetype="text/html")
