"""The OpenAPI 3 document, generated from the declared operations and their schemas.

``/api/openapi.json`` serves it; ``/api/docs`` renders it as plain HTML on the server,
so the page needs no script, no build step and no network.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, Response, jsonify

from connector.api.routes import OPERATIONS, PATH_NAMES, PREFIX, Operation
from connector.api.schemas.common import Body, ErrorOut
from connector.context import current
from connector.wire import Cents, Rate, WholeNumber

ERROR_TEXT = {
    400: "Invalid request: error.fields names each bad field",
    401: "Missing or unknown X-VTEX-API-AppKey / X-VTEX-API-AppToken",
    403: "The key's role does not allow this",
    404: "Not found",
    409: "Conflicts with the current state",
    422: "Refused by the credit rules",
}
_RULE_ARG = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")

DESCRIPTION = """The Customer Credit REST API, compatible with the public Customer Credit API:
the same paths under /api/creditcontrol, the same JSON names.

Authenticate with the X-VTEX-API-AppKey and X-VTEX-API-AppToken headers of a key issued
by `connector keys create --role admin|accounts|invoices|read` (or the configured pair,
which acts as admin). Amounts are JSON numbers; on input a string such as "1100" or
"1.100,00" is accepted too. Errors are {"error": {"code", "message", "fields"?}}.
"""


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


def _lenient_numbers(converter: Any, field: Any, **kwargs: Any) -> dict[str, Any]:
    """In request bodies, amounts, rates and counts may also be written as strings."""
    if isinstance(field, Cents | Rate | WholeNumber) and isinstance(field.root, Body):
        ret: dict[str, Any] = kwargs["ret"]
        number = ret.pop("type", "number")
        text = 'a JSON number, or a string such as "1100", "1.100,00" or "1,100.00"'
        if ret.get("description"):
            text = f"{ret['description']}; {text}"
        return {"oneOf": [{"type": number}, {"type": "string"}], "description": text}
    return {}


def build_spec() -> dict[str, Any]:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Customer Credit API",
        version="1.0",
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": DESCRIPTION},
        servers=[{"url": "/"}],
        security=[{"appKey": [], "appToken": []}],
    )
    converter: Any = plugin.converter  # apispec's converter is untyped
    converter.map_to_openapi_type(Cents, "number", None)
    converter.map_to_openapi_type(Rate, "number", None)
    converter.add_attribute_function(_lenient_numbers)
    spec.components.security_scheme(
        "appKey", {"type": "apiKey", "in": "header", "name": "X-VTEX-API-AppKey"}
    )
    spec.components.security_scheme(
        "appToken", {"type": "apiKey", "in": "header", "name": "X-VTEX-API-AppToken"}
    )
    spec.components.schema("ErrorOut", schema=ErrorOut)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(openapi_path(op.rule), {})[op.method] = _operation(op)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document: dict[str, Any] = spec.to_dict()
    return document


def _document() -> dict[str, Any]:
    extras = current().extras
    if "openapi" not in extras:
        extras["openapi"] = build_spec()
    document: dict[str, Any] = extras["openapi"]
    return document


def _schema_name(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return _schema_name(schema.get("items")) + "[]"
    return str(schema.get("type", "object"))


def _body_schema(part: dict[str, Any]) -> str:
    content = part.get("content", {})
    first: dict[str, Any] = next(iter(content.values()), {}) if content else {}
    return _schema_name(first.get("schema"))


def render_html(document: dict[str, Any]) -> str:
    """Every operation with its parameters, body and answers, as a plain HTML page."""
    rows: list[str] = []
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            params = "".join(
                f"<li><code>{escape(p['name'])}</code> ({escape(p['in'])})"
                f"{' <em>required</em>' if p.get('required') else ''}"
                f"{' — ' + escape(p['description']) if p.get('description') else ''}</li>"
                for p in op.get("parameters", [])
            )
            body = _body_schema(op.get("requestBody", {}))
            answers = "".join(
                f"<li>{escape(code)}: {escape(r['description'])} "
                f"<code>{escape(_body_schema(r))}</code></li>"
                for code, r in op["responses"].items()
            )
            rows.append(
                f"<section id='{escape(op['operationId'])}'><h3><code>{method.upper()} "
                f"{escape(path)}</code> — {escape(op['summary'])}</h3>"
                f"<p>{escape(op.get('description', ''))}</p>"
                f"<p>Permission: <code>{escape(op['x-permission'])}</code></p>"
                + (f"<h4>Parameters</h4><ul>{params}</ul>" if params else "")
                + (f"<h4>Body</h4><p><code>{escape(body)}</code></p>" if body else "")
                + f"<h4>Answers</h4><ul>{answers}</ul></section>"
            )
    schemas = "".join(
        f"<section id='schema-{escape(name)}'><h3>{escape(name)}</h3><ul>"
        + "".join(
            f"<li><code>{escape(field)}</code>: {escape(_schema_name(prop) or 'object')}"
            f"{' — ' + escape(prop['description']) if prop.get('description') else ''}</li>"
            for field, prop in schema.get("properties", {}).items()
        )
        + "</ul></section>"
        for name, schema in document["components"]["schemas"].items()
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(document['info']['title'])}</title>"
        "<style>body{font-family:sans-serif;max-width:60rem;margin:auto;padding:1rem}"
        "section{border-top:1px solid #ccc}code{background:#f4f4f4}</style></head><body>"
        f"<h1>{escape(document['info']['title'])}</h1>"
        f"<pre>{escape(document['info']['description'])}</pre>"
        "<p>The machine-readable document: <a href='/api/openapi.json'>/api/openapi.json</a></p>"
        f"<h2>Operations</h2>{''.join(rows)}<h2>Schemas</h2>{schemas}</body></html>"
    )


def init_app(app: Flask) -> None:
    @app.get("/api/openapi.json")
    def openapi_document() -> Response:
        return jsonify(_document())

    @app.get("/api/docs")
    def openapi_page() -> Response:
        return Response(render_html(_document()), mimetype="text/html")
