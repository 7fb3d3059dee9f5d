"""The payment provider protocol's HTTP routes: authenticate, parse, one transaction, answer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest, HTTPException

from connector import jsonio
from connector.access.principals import PAYMENTS, credentials_from
from connector.context import current, get_authenticator, get_db, get_settings, now
from connector.errors import (
    Code,
    ConnectorError,
    Forbidden,
    Reason,
    Unauthorized,
    ValidationError,
)
from connector.payments.answers import Answer, payment_response, refusal
from connector.payments.authorization import authorize_payment
from connector.payments.models import OperationKind, Payment
from connector.payments.operations import cancel_payment, refund_payment, settle_payment
from connector.payments.states import Refused
from connector.protocol import schemas
from connector.protocol.schemas import TESTSUITE_HEADER, is_test_suite
from connector.wire import unstorable

log = logging.getLogger(__name__)
bp = Blueprint("protocol", __name__)

# A repeat racing its original collides on a unique key; run again, it replays.
_RETRIES = 2
_CREATE, _OPERATION = schemas.CreatePaymentSchema(), schemas.OperationSchema()


def _error(code: str, message: str, status: int) -> tuple[Response, int]:
    return jsonify({"status": "error", "code": code, "message": message}), status


@bp.errorhandler(ConnectorError)
def _connector_error(error: ConnectorError) -> tuple[Response, int]:
    return _error(error.code, error.message, error.http_status)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[Response, int]:
    code = (error.name or "error").lower().replace(" ", "_")
    return _error(code, error.description or code, error.code or 400)


@bp.errorhandler(Exception)
def _internal_error(error: Exception) -> tuple[Response, int]:
    log.exception("protocol request failed")
    return _error(Code.INTERNAL_ERROR, "the connector failed to process the request", 500)


@bp.get("/manifest")
def manifest() -> Response:
    return jsonify(current().manifest)


@bp.get("/payment-methods")
def payment_methods() -> Response:
    """The legacy list of payment methods, from the manifest."""
    return jsonify({"paymentMethods": [m["name"] for m in current().manifest["paymentMethods"]]})


# The configuration flow's calls come before the platform has credentials (see
# connector.access.connections for what protects them instead).
_PUBLIC = {
    "protocol.manifest",
    "protocol.payment_methods",
    "protocol.create_authorization_token",
    "protocol.get_credentials",
}


@bp.before_request
def _authenticate() -> None:
    """Either credential pair; empty ones only for test-suite traffic, when allowed."""
    if request.endpoint in _PUBLIC:
        return
    g.test_suite = is_test_suite(request.headers.get(TESTSUITE_HEADER))
    app_key, app_token = credentials_from(request.headers)
    if (
        g.test_suite
        and not app_key
        and not app_token
        and get_settings().allow_testsuite_without_credentials
    ):
        return
    principal = get_authenticator().authenticate(app_key, app_token)
    if principal is None:
        raise Unauthorized("missing or invalid X-VTEX-API-AppKey / X-VTEX-API-AppToken")
    if not principal.may(PAYMENTS):
        raise Forbidden("the {role} role may not process payments", role=repr(principal.role))


@bp.url_value_preprocessor
def _check_payment_id(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A payment id in the path fits its column and can be stored, or the request is a 400."""
    payment_id = (values or {}).get("payment_id")
    if payment_id is not None and (len(payment_id) > schemas.MAX_ID or unstorable(payment_id)):
        raise ValidationError(
            "invalid paymentId in the path",
            fields={
                "paymentId": Reason("at most {limit} storable characters", limit=schemas.MAX_ID)
            },
        )


def _body() -> Any:
    try:
        return request.get_json(force=True)
    except BadRequest:
        raise ValidationError("the body is not valid JSON", code=Code.MALFORMED_JSON) from None


@bp.post("/payments")
def create_payment() -> Response:
    data = schemas.load(_CREATE, _body())
    payment_request = schemas.payment_request(data, test_suite=g.test_suite)
    moment = now()
    # With the express entrance in front (see connector.protocol.express), a create that
    # reaches this route was declined there: it may be a repeat that collided, or one
    # whose commit could not be confirmed, so look it up first. Without it, a repeat is
    # rare enough to be found by its collision, and looked up only when run again.
    attempts = 0 if "express" in current().extras else -1

    def authorize(session: Session) -> dict[str, Any]:
        nonlocal attempts
        attempts += 1
        payment = authorize_payment(session, payment_request, now=moment, look_up=attempts > 0)
        return payment_response(payment)

    return jsonify(get_db().run(authorize, retries=_RETRIES))


def _operation(
    kind: OperationKind,
    payment_id: str,
    act: Callable[[Session, str, int | None], Answer],
) -> tuple[Response, int]:
    """Run a settlement, refund or cancellation: its answer, or its failure body with the
    document's 500 (or 501 for a refund done by hand). Bad input (a malformed body, a
    ``requestId`` repeated with other values) is a 400 in the protocol's error shape, as
    for a create: the document lists no status for it, and a 500 would have the gateway
    retry for a day what can never succeed."""
    data = schemas.load(_OPERATION, _body())
    if data.get("paymentId") not in (None, payment_id):
        raise ValidationError(
            "paymentId in the body differs from the path", fields={"paymentId": "mismatch"}
        )
    request_id = data["requestId"]
    try:
        answer = get_db().run(
            lambda session: act(session, request_id, data.get("value")), retries=_RETRIES
        )
    except Refused as refused:
        answer = refusal(kind, payment_id, request_id, refused.code, refused.message)
    except ConnectorError:
        raise  # a requestId repeated with other values: bad input, answered as such
    except Exception:
        # A failure (the database gone, a bug) rolled everything back: answer the
        # operation's failure body, so the gateway retries it.
        log.exception("%s of payment %s failed", kind, payment_id)
        answer = refusal(
            kind, payment_id, request_id, Code.INTERNAL_ERROR, f"the {kind} failed; retry it"
        )
    return jsonify(answer.body), answer.http_status


@bp.post("/payments/<payment_id>/settlements")
def settle(payment_id: str) -> tuple[Response, int]:
    moment = now()
    return _operation(
        OperationKind.SETTLE,
        payment_id,
        lambda session, request_id, value: settle_payment(
            session, payment_id, request_id, value, now=moment
        ),
    )


@bp.post("/payments/<payment_id>/refunds")
def refund(payment_id: str) -> tuple[Response, int]:
    moment = now()
    return _operation(
        OperationKind.REFUND,
        payment_id,
        lambda session, request_id, value: refund_payment(
            session, payment_id, request_id, value, now=moment
        ),
    )


@bp.post("/payments/<payment_id>/cancellations")
def cancel(payment_id: str) -> tuple[Response, int]:
    moment = now()
    return _operation(
        OperationKind.CANCEL,
        payment_id,
        lambda session, request_id, _value: cancel_payment(
            session, payment_id, request_id, now=moment
        ),
    )


@bp.post("/payments/<payment_id>/inbound/<action>")
@bp.post("/payments/<payment_id>/inbound-request/<action>")
def inbound(payment_id: str, action: str) -> Response:
    """Webhooks relayed by the gateway: answered with the payment's current state."""
    body = _body()
    request_id = body.get("requestId") if isinstance(body, dict) else None

    def read(session: Session) -> tuple[int, str]:
        payment = session.get(Payment, payment_id)
        if payment is None:
            error = {"code": Code.PAYMENT_NOT_FOUND, "message": f"payment {payment_id} not found"}
            return 404, jsonio.dumps(error)
        return 200, jsonio.dumps({"action": action, **payment_response(payment)})

    # The document lists only a 200: the payment's own answer travels in responseData.
    status, content = get_db().run(read, read_only=True)
    return jsonify(
        {
            "requestId": request_id,
            "paymentId": payment_id,
            "responseData": {
                "statusCode": status,
                "contentType": "application/json",
                "content": content,
            },
        }
    )
