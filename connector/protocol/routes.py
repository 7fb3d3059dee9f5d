"""The payment provider protocol's HTTP edge: authenticate, parse, one transaction, answer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest, HTTPException

from connector import jsonio
from connector.app import get_authenticator, get_db, get_settings
from connector.auth import PAYMENTS, credentials_from
from connector.config import Settings
from connector.db import Database
from connector.errors import ConnectorError, Forbidden, NotFound, Unauthorized, ValidationError
from connector.ids import utcnow
from connector.protocol import schemas
from connector.protocol.answers import payment_response
from connector.protocol.express import ExpressAuthorizer, ExpressEntrance
from connector.protocol.models import Payment
from connector.protocol.payments import (
    Answer,
    PaymentRequest,
    Refused,
    authorize_payment,
    cancel_payment,
    refund_payment,
    refusal,
    settle_payment,
)
from connector.protocol.testsuite import TESTSUITE_HEADER, is_test_suite

log = logging.getLogger(__name__)
bp = Blueprint("protocol", __name__)
T = TypeVar("T")

_RETRIES = 3
_CREATE, _OPERATION = schemas.CreatePaymentSchema(), schemas.OperationSchema()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    db: Database = app.extensions["connector.db"]
    settings: Settings = app.config["CONNECTOR_SETTINGS"]
    if db.is_postgresql and settings.express_authorization:
        express = ExpressAuthorizer(db.engine)
        db.on_dispose(express.close)
        app.extensions["connector.express"] = express
        app.wsgi_app = ExpressEntrance(  # type: ignore[method-assign]
            app.wsgi_app, express, app.extensions["connector.auth"]
        )


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
    return _error("internal_error", "the connector failed to process the request", 500)


@bp.before_request
def _authenticate() -> None:
    """Either credential pair; empty ones only for test-suite traffic, when allowed."""
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
        raise Forbidden(f"the {principal.role!r} role may not process payments")


def _body() -> Any:
    try:
        return request.get_json(force=True)
    except BadRequest:
        raise ValidationError("the body is not valid JSON", code="malformed_json") from None


def _transaction(work: Callable[[Session, bool], T]) -> T:
    """Run ``work(session, retrying)`` in one transaction; a collision on a unique key
    (a repeat racing its original) is retried, and then replays the stored answer."""
    for attempt in range(_RETRIES):
        try:
            with get_db().transaction() as session:
                return work(session, attempt > 0)
        except IntegrityError:
            if attempt == _RETRIES - 1:
                raise
            log.debug("unique key collision on %s (a repeat); replaying", request.path)
    raise AssertionError("unreachable")


@bp.post("/payments")
def create_payment() -> Response:
    data = schemas.load(_CREATE, _body())
    payment_request = PaymentRequest.from_body(data, test_suite=g.test_suite)
    now = utcnow()
    # With the express entrance in front (see connector.protocol.express), a create that
    # reaches this route was declined there: it may be a repeat that collided, or one
    # whose commit could not be confirmed, so look it up first.
    express = "connector.express" in current_app.extensions

    def authorize(session: Session, retrying: bool) -> dict[str, Any]:
        look_up = retrying or express
        payment = authorize_payment(session, payment_request, now=now, look_up=look_up)
        return payment_response(payment)

    return jsonify(_transaction(authorize))


def _operation(
    kind: str,
    payment_id: str,
    run: Callable[[Session, str, int | None], Answer],
) -> tuple[Response, int]:
    data = schemas.load(_OPERATION, _body())
    if data.get("paymentId") not in (None, payment_id):
        raise ValidationError(
            "paymentId in the body differs from the path", fields={"paymentId": "mismatch"}
        )
    request_id = data["requestId"]

    def act(session: Session, _retrying: bool) -> Answer:
        return run(session, request_id, data.get("value"))

    try:
        answer = _transaction(act)
    except Refused as refused:
        answer = refusal(kind, payment_id, request_id, refused)
    return jsonify(answer.body), answer.http_status


@bp.post("/payments/<payment_id>/settlements")
def settle(payment_id: str) -> tuple[Response, int]:
    now = utcnow()
    return _operation(
        "settle",
        payment_id,
        lambda session, request_id, value: settle_payment(
            session, payment_id, request_id, value, now=now
        ),
    )


@bp.post("/payments/<payment_id>/refunds")
def refund(payment_id: str) -> tuple[Response, int]:
    now = utcnow()
    return _operation(
        "refund",
        payment_id,
        lambda session, request_id, value: refund_payment(
            session, payment_id, request_id, value, now=now
        ),
    )


@bp.post("/payments/<payment_id>/cancellations")
def cancel(payment_id: str) -> tuple[Response, int]:
    now = utcnow()
    return _operation(
        "cancel",
        payment_id,
        lambda session, request_id, _value: cancel_payment(
            session, payment_id, request_id, now=now
        ),
    )


@bp.post("/payments/<payment_id>/inbound/<action>")
@bp.post("/payments/<payment_id>/inbound-request/<action>")
def inbound(payment_id: str, action: str) -> Response:
    """Webhooks relayed by the gateway: answered with the payment's current state."""
    body = _body()
    request_id = body.get("requestId") if isinstance(body, dict) else None
    with get_db().transaction() as session:
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise NotFound(f"payment {payment_id} not found", code="payment_not_found")
        content = jsonio.dumps({"action": action, **payment_response(payment)})
    return jsonify(
        {
            "requestId": request_id,
            "paymentId": payment_id,
            "responseData": {
                "statusCode": 200,
                "contentType": "application/json",
                "content": content,
            },
        }
    )
