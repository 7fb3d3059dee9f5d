"""The API's blueprint, its operations as data, and reading a request through a schema.

Each view is declared with ``route``: method, path, permission, and the schemas of its
query, body and response. The same declaration guards the view (401 without valid
credentials, 403 without the permission), opens the view's transaction (a snapshot for a
``GET``), registers it, and describes it in the OpenAPI document, so a route cannot exist
without being documented. A view takes the session as its first argument; one that
streams (exports, uploads) asks for ``transaction=None`` and opens its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Literal, TypeVar

from flask import Blueprint, Response, g, jsonify, request
from marshmallow import Schema
from sqlalchemy.orm import Session

from connector import audit
from connector.access.principals import credentials_from
from connector.context import get_authenticator, get_db
from connector.errors import Forbidden, Reason, Unauthorized, ValidationError
from connector.wire import load, unstorable, unstorable_fields

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
Unit = Literal["write", "read"] | None


def _guarded(permission: str, unit: Unit, view: Callable[..., Any]) -> Callable[..., Any]:
    """The view behind its credential check, in its transaction."""

    @wraps(view)
    def guarded(**kwargs: Any) -> Any:
        principal = get_authenticator().authenticate(*credentials_from(request.headers))
        if principal is None:
            raise Unauthorized("missing or invalid X-VTEX-API-AppKey / X-VTEX-API-AppToken")
        if not principal.may(permission):
            raise Forbidden(
                "the {role} role may not {permission}",
                role=repr(principal.role),
                permission=permission,
            )
        g.principal = principal
        with audit.acting_as(audit.KEY, principal.key):
            if unit is None:
                return view(**kwargs)

            def work(session: Session) -> Any:
                return view(session, **kwargs)

            return get_db().run(work, read_only=unit == "read")

    return guarded


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
    transaction: Unit | Literal["default"] = "default",
) -> Callable[[F], F]:
    """Register a guarded view, run in its transaction, and its description."""
    unit: Unit = (
        ("read" if method == "GET" else "write") if transaction == "default" else transaction
    )

    def decorator(view: F) -> F:
        guarded = _guarded(permission, unit, view)
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
        return view

    return decorator


# The longest id each path names (its column's size): a longer one is refused, not looked
# up. Transaction and statement ids are checked by their services, which say more.
PATH_ID_LENGTHS = {"account_id": 120, "invoice_id": 80, "holder_id": 32, "job_id": 32}
# The public API's names of the path's ids, for errors and the OpenAPI document.
PATH_NAMES = {
    "account_id": "creditAccountId",
    "invoice_id": "invoiceId",
    "transaction_id": "transactionId",
    "holder_id": "holderId",
    "statement_id": "statementId",
}


@bp.url_value_preprocessor
def _check_path_ids(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    for name, value in (values or {}).items():
        limit = PATH_ID_LENGTHS.get(name, 200)
        if unstorable(str(value)) or len(str(value)) > limit:
            public = PATH_NAMES.get(name, name)
            raise ValidationError(
                "invalid {name} in the path",
                fields={public: Reason("at most {limit} storable characters", limit=limit)},
                name=public,
            )


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
    bad = unstorable_fields(data)
    if bad:
        raise ValidationError("invalid request body", fields=bad)
    return data


def dump(schema: type[Schema], obj: Any) -> Response:
    return jsonify(schema().dump(obj))


def no_content() -> Response:
    """200 with an empty body, where the public API answers without one."""
    return Response(status=200)


def done_by() -> str:
    """Who did it, for the statement: the caller's API key."""
    return str(g.principal.key)
