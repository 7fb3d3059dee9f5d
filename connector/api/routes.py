"""The API's blueprint, its operations as data, and reading a request through a schema.

Each view is declared with ``route``: method, path, permission, and the schemas of its
query, body and response. The same declaration guards the view (``auth.require``),
registers it, and describes it in the OpenAPI document, so a route cannot exist
without being documented.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint, Response, g, jsonify, request
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError

from connector.auth import require
from connector.errors import NotFound, ValidationError

PREFIX = "/api/creditcontrol"

bp = Blueprint("api", __name__, url_prefix=PREFIX)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Operation:
    """One documented endpoint."""

    method: str
    rule: str  # relative to PREFIX, in Flask's syntax
    endpoint: str
    summary: str
    tag: str
    permission: str
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    response: type[Schema] | None = None  # None: 200 with an empty body
    errors: tuple[int, ...] = ()
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    form: type[Schema] | None = None  # a multipart/form-data body (file uploads)
    csv: bool = False  # the answer is a CSV document, not JSON
    success: int = 200


OPERATIONS: list[Operation] = []


def route(
    method: str,
    rule: str,
    *,
    summary: str,
    tag: str,
    permission: str,
    query: type[Schema] | None = None,
    body: type[Schema] | None = None,
    response: type[Schema] | None = None,
    errors: tuple[int, ...] = (),
    description: str = "",
    form: type[Schema] | None = None,
    csv: bool = False,
    success: int = 200,
) -> Callable[[F], F]:
    """Register a guarded view and its description."""

    def decorator(view: F) -> F:
        guarded = require(permission)(view)
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=guarded, methods=[method])
        OPERATIONS.append(
            Operation(
                method=method.lower(),
                rule=rule,
                endpoint=view.__name__,
                summary=summary,
                tag=tag,
                permission=permission,
                query=query,
                body=body,
                response=response,
                errors=errors,
                description=description,
                form=form,
                csv=csv,
                success=success,
            )
        )
        return guarded

    return decorator


def _flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """Marshmallow's nested messages as ``{"claims.email": "reason"}``."""
    if isinstance(messages, list):
        texts = [m for m in messages if isinstance(m, str)]
        if texts:
            return {prefix or "body": texts[0]}
        out: dict[str, str] = {}
        for item in messages:
            out.update(_flatten(item, prefix))
        return out
    if isinstance(messages, dict):
        out = {}
        for key, value in messages.items():
            name = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, name))
        return out
    return {prefix or "body": str(messages)}


def _nul_fields(data: Any, prefix: str = "") -> dict[str, str]:
    """Fields holding a NUL character, which no text column can store (PostgreSQL refuses)."""
    if isinstance(data, str):
        return {prefix or "body": "must not contain NUL characters"} if "\x00" in data else {}
    if isinstance(data, dict):
        found: dict[str, str] = {}
        for key, value in data.items():
            found.update(_nul_fields(value, f"{prefix}.{key}" if prefix else str(key)))
            found.update(_nul_fields(str(key), f"{prefix}.{key}" if prefix else str(key)))
        return found
    if isinstance(data, list):
        return {k: v for item in data for k, v in _nul_fields(item, prefix).items()}
    return {}


@bp.url_value_preprocessor
def _refuse_nul_in_path(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    if values and any("\x00" in str(value) for value in values.values()):
        raise NotFound("no such resource")


def load(schema: type[Schema], data: Any, what: str) -> dict[str, Any]:
    """Validate ``data`` with ``schema``; a 400 naming every bad field otherwise."""
    nul = _nul_fields(data)
    if nul:
        raise ValidationError(f"invalid {what}", fields=nul)
    try:
        loaded: dict[str, Any] = schema().load(data)
    except SchemaError as exc:
        raise ValidationError(f"invalid {what}", fields=_flatten(exc.messages)) from exc
    return loaded


def query_args(schema: type[Schema]) -> dict[str, Any]:
    """The query string, read strictly: an unknown parameter is an error, not ignored."""
    return load(schema, request.args.to_dict(flat=True), "query parameters")


def json_body(schema: type[Schema]) -> dict[str, Any]:
    """The JSON body (an empty body reads as ``{}``), whatever its content type says."""
    if not request.get_data(cache=True):
        data: Any = {}
    else:
        data = request.get_json(force=True, silent=True)
        if data is None:
            raise ValidationError("the body is not valid JSON", fields={"body": "not valid JSON"})
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", fields={"body": "not an object"})
    return load(schema, data, "request body")


def raw_json_object() -> dict[str, Any]:
    """A JSON object body for a service that validates it itself (the store settings)."""
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", fields={"body": "not an object"})
    nul = _nul_fields(data)
    if nul:
        raise ValidationError("invalid request body", fields=nul)
    return data


def dump(schema: type[Schema], obj: Any) -> Response:
    return jsonify(schema().dump(obj))


def no_content() -> Response:
    """200 with an empty body, where the public API answers without one."""
    return Response(status=200)


def done_by() -> str:
    """Who did it, for the statement: the caller's API key."""
    return str(g.principal.key)
