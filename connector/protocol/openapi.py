"""The payment provider protocol in the OpenAPI document.

``document_protocol`` adds the routes of ``connector.protocol.routes`` to the document the
API serves (``/api/openapi.json``, rendered at ``/api/docs``): the bodies they read are the
wire schemas of ``connector.protocol.schemas``, the answers they give (built by
``connector.payments.answers``) are described here. ``tests/protocol/conftest.py`` checks
every protocol answer of the suite against these descriptions.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields, validate

from connector.access.principals import PAYMENTS
from connector.errors import Code
from connector.payments.answers import DELAY_TO_CANCEL, MAX_DELAY_TO_AUTO_SETTLE
from connector.payments.models import PaymentStatus
from connector.protocol import schemas
from connector.wire import AMOUNT_FORMAT
from connector.wire import Cents as Amount

TAG = "Payment provider protocol"
TAG_DESCRIPTION = """What the checkout's payment gateway calls: create a payment (reserve
credit), settle it (issue the invoices), refund, cancel. Paths are relative to the
connector's base URL. Send either credential pair, `X-VTEX-API-AppKey` and
`X-VTEX-API-AppToken` or `X-PROVIDER-API-AppKey` and `X-PROVIDER-API-AppToken`: the
configured pair, an admin key or a gateway key.

The gateway's messages are read tolerantly: fields not listed are ignored, numbers may
arrive as strings (`"29,90"`) and ids as numbers. Amounts are currency units. Errors are
`{"status": "error", "code", "message"}`."""

_STRING = {"type": "string"}
_AMOUNT_INPUT = 'a string such as "29,90" is read too; thousands are never grouped'
_COUNT_INPUT = 'a string such as "3" is read too'


# --- the answers -------------------------------------------------------------------------


class ProtocolError(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["error"]))
    code = fields.String(required=True, metadata={"description": "a stable machine code"})
    message = fields.String(required=True)


class PaymentAnswer(Schema):
    """``payments.answers.payment_response``: also the body of the callback."""

    paymentId = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(list(PaymentStatus)))
    authorizationId = fields.String(
        required=True, allow_none=True, metadata={"description": "null unless approved"}
    )
    tid = fields.String(required=True, metadata={"description": "ours, the same on every repeat"})
    nsu = fields.String(required=True)
    acquirer = fields.String(required=True)
    code = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "why: the denial's code (no_account, ...) or the outcome's"},
    )
    message = fields.String(required=True, allow_none=True)
    delayToAutoSettle = fields.Integer(
        required=True,
        validate=validate.Range(min=0, max=MAX_DELAY_TO_AUTO_SETTLE),
        metadata={"description": "seconds to the reservation's auto-settle moment"},
    )
    delayToAutoSettleAfterAntifraud = fields.Integer(
        required=True, validate=validate.Range(min=0, max=MAX_DELAY_TO_AUTO_SETTLE)
    )
    delayToCancel = fields.Integer(
        required=True,
        validate=validate.Range(min=DELAY_TO_CANCEL, max=DELAY_TO_CANCEL),
        metadata={"description": "seconds the gateway waits on an undefined payment"},
    )


class _OperationAnswer(Schema):
    paymentId = fields.String(required=True)
    code = fields.String(required=True)
    message = fields.String(required=True)
    requestId = fields.String(required=True)


class SettleAnswer(_OperationAnswer):
    settleId = fields.String(required=True)
    value = Amount(required=True, metadata={"description": "the settled total"})
    code = fields.String(required=True, validate=validate.OneOf([Code.SETTLED]))


class RefundAnswer(_OperationAnswer):
    refundId = fields.String(required=True)
    value = Amount(required=True, metadata={"description": "what this refund gave back"})
    code = fields.String(required=True, validate=validate.OneOf([Code.REFUNDED]))


class CancelAnswer(_OperationAnswer):
    cancellationId = fields.String(required=True)
    code = fields.String(required=True, validate=validate.OneOf([Code.CANCELLED]))


_NOTHING_DONE = {"description": "null: nothing was done"}
_FAILURE_CODE = {"description": "why (see the statuses); a 501's own reason ends the message"}


class SettleFailure(_OperationAnswer):
    settleId = fields.String(required=True, allow_none=True, metadata=_NOTHING_DONE)
    value = Amount(required=True, validate=validate.Equal(0), metadata={"description": "0"})
    code = fields.String(required=True, metadata=_FAILURE_CODE)


class RefundFailure(_OperationAnswer):
    refundId = fields.String(required=True, allow_none=True, metadata=_NOTHING_DONE)
    value = Amount(required=True, validate=validate.Equal(0), metadata={"description": "0"})
    code = fields.String(required=True, metadata=_FAILURE_CODE)


class CancelFailure(_OperationAnswer):
    cancellationId = fields.String(required=True, allow_none=True, metadata=_NOTHING_DONE)
    code = fields.String(required=True, metadata=_FAILURE_CODE)


class ResponseData(Schema):
    statusCode = fields.Integer(required=True)
    contentType = fields.String(required=True)
    content = fields.String(
        required=True,
        metadata={
            "description": "JSON text: the action and the payment's current state, as the "
            "create's answer"
        },
    )


class InboundAnswer(Schema):
    requestId = fields.String(required=True, allow_none=True)
    paymentId = fields.String(required=True)
    responseData = fields.Nested(ResponseData, required=True)


class InboundBody(Schema):
    """Whatever the gateway relays; only ``requestId`` is read."""

    requestId = fields.String(allow_none=True)


class PaymentMethod(Schema):
    name = fields.String(required=True)
    allowsSplit = fields.String(required=True)


class CustomFieldOption(Schema):
    text = fields.String(required=True)
    value = fields.String(required=True)


class CustomField(Schema):
    name = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(["text", "password", "select"]))
    options = fields.List(fields.Nested(CustomFieldOption))


class AutoSettleDelay(Schema):
    minimum = fields.String(required=True, metadata={"description": "whole hours"})
    maximum = fields.String(required=True, metadata={"description": "whole hours"})


class Manifest(Schema):
    paymentMethods = fields.List(fields.Nested(PaymentMethod), required=True)
    customFields = fields.List(fields.Nested(CustomField), required=True)
    autoSettleDelay = fields.Nested(AutoSettleDelay)


class PaymentMethods(Schema):
    paymentMethods = fields.List(fields.String(), required=True)


# --- the operations ----------------------------------------------------------------------

_CREDENTIALS = {
    "401": "Missing or wrong credentials (code unauthorized); no retry cures it",
    "403": "A key whose role may not pay (code forbidden)",
}
_TEST_SUITE = {
    "in": "header",
    "name": schemas.TESTSUITE_HEADER,
    "required": False,
    "schema": {"type": "string", "enum": ["true", "false"]},
    "description": "true: homologation traffic, decided by the card number and touching no "
    "credit; may come with empty credentials when the connector allows it",
}
_PAYMENT_ID = {
    "in": "path",
    "name": "paymentId",
    "required": True,
    "schema": {"type": "string", "maxLength": schemas.MAX_ID},
}
_BAD_BODY = (
    "A malformed or invalid body (invalid_request, malformed_json, naming each bad field), a "
    "paymentId in the body other than the path's, or a requestId already used for another "
    "kind of operation or with another value (idempotency_conflict): nothing changed"
)


def _json(schema: Any) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _answer(description: str, schema: Any) -> dict[str, Any]:
    return {"description": description, "content": _json(schema)}


def _failure(description: str, failure: str) -> dict[str, Any]:
    # The failure body; a failure before the operation is read (the database gone while
    # checking credentials) answers the protocol's error shape instead.
    return _answer(description, {"anyOf": [_ref(failure), _ref("ProtocolError")]})


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _guarded(operation: dict[str, Any], *statuses: str) -> dict[str, Any]:
    """An operation that needs credentials: the permission, the test-suite header, 401/403."""
    responses = operation["responses"]
    for status in statuses:
        responses[status] = _answer(_CREDENTIALS[status], "ProtocolError")
    return {
        "tags": [TAG],
        "x-permission": PAYMENTS,
        **operation,
        "parameters": [*operation.get("parameters", []), _TEST_SUITE],
        "responses": dict(sorted(responses.items())),
    }


def _operations() -> dict[str, dict[str, dict[str, Any]]]:
    body = {"required": True, "content": _json("PaymentOperationBody")}
    return {
        "/manifest": {
            "get": {
                "operationId": "manifest",
                "tags": [TAG],
                "summary": "The manifest: payment methods and settings",
                "description": "The payment methods the connector takes (`Promissories` in "
                "live traffic; `Visa` for the homologation suite).",
                "security": [],
                "responses": {"200": _answer("The manifest", "Manifest")},
            }
        },
        "/payment-methods": {
            "get": {
                "operationId": "payment_methods",
                "tags": [TAG],
                "summary": "The payment methods (legacy)",
                "description": "The manifest's method names.",
                "security": [],
                "responses": {"200": _answer("The names", "PaymentMethods")},
            }
        },
        "/payments": {
            "post": _guarded(
                {
                    "operationId": "create_payment",
                    "summary": "Create a payment: reserve the buyer's credit",
                    "description": (
                        "The connector finds the buyer's credit account by "
                        "`miniCart.buyer.email` (the owner's or a dependent's e-mail; by "
                        "`miniCart.buyer.document` when no e-mail matches) and reserves "
                        "`value` on it. An `email` at the top level is not read: without "
                        "`miniCart.buyer` the answer is `denied` with `no_account`.\n\n"
                        "Every business outcome is a 200: `approved`; `denied` with a stable "
                        "code (`no_account`, `account_closed`, `insufficient_credit`, "
                        "`overdue_invoices`, `currency_not_supported`, "
                        "`installments_not_allowed`, `payment_method_not_supported`, "
                        "`payment_cancelled`); or `undefined` (an over-limit purchase under "
                        "review, a test card), whose final answer is POSTed to "
                        "`callbackUrl`.\n\n"
                        "A repeated `paymentId` answers the stored state; with another value, "
                        "currency, installments or buyer it is a 400 `idempotency_conflict`."
                    ),
                    "requestBody": {"required": True, "content": _json("CreatePaymentBody")},
                    "responses": {
                        "200": _answer("approved, denied or undefined", "PaymentAnswer"),
                        "400": _answer(
                            "A malformed or invalid body (invalid_request, malformed_json, "
                            "naming each bad field), or a paymentId repeated with other "
                            "values (idempotency_conflict)",
                            "ProtocolError",
                        ),
                        "500": _answer(
                            "A failure of ours (internal_error): the gateway retries",
                            "ProtocolError",
                        ),
                    },
                    "callbacks": {
                        "finalAnswer": {
                            "{$request.body#/callbackUrl}": {
                                "post": {
                                    "summary": "An undefined payment's final answer",
                                    "description": "POSTed verbatim to callbackUrl once the "
                                    "review or the test card decides, with the provider's "
                                    "own credentials; retried with backoff for 7 days.",
                                    "requestBody": {
                                        "required": True,
                                        "content": _json("PaymentAnswer"),
                                    },
                                    "responses": {"200": {"description": "Received"}},
                                }
                            }
                        }
                    },
                },
                "401",
                "403",
            )
        },
        "/payments/{paymentId}/settlements": {
            "post": _guarded(
                {
                    "operationId": "settle_payment",
                    "summary": "Settle a payment: issue its invoices",
                    "description": (
                        "Settles all or part of the reservation (the rest is released) "
                        "into one invoice per installment. A second settlement with a new "
                        "`requestId` is an order change: `value` is the new settled total. "
                        "A `requestId` repeated replays the stored answer."
                    ),
                    "parameters": [_PAYMENT_ID],
                    "requestBody": body,
                    "responses": {
                        "200": _answer("Settled (code settled)", "SettleAnswer"),
                        "400": _answer(_BAD_BODY, "ProtocolError"),
                        "500": _failure(
                            "Refused or failed, nothing changed; the gateway retries: "
                            "payment_not_found, payment_not_approved (under review), "
                            "payment_denied, payment_cancelled, growth_limit_exceeded, "
                            "insufficient_credit, below_refunded, internal_error",
                            "SettleFailure",
                        ),
                    },
                },
                "401",
                "403",
            )
        },
        "/payments/{paymentId}/refunds": {
            "post": _guarded(
                {
                    "operationId": "refund_payment",
                    "summary": "Refund a settled payment, partly or totally",
                    "description": (
                        "Reduces the open invoices, last first; what they cannot absorb "
                        "(already paid) goes back to the account. Refunds never exceed what "
                        "was settled. A `requestId` repeated replays the stored answer."
                    ),
                    "parameters": [_PAYMENT_ID],
                    "requestBody": body,
                    "responses": {
                        "200": _answer("Refunded (code refunded)", "RefundAnswer"),
                        "400": _answer(_BAD_BODY, "ProtocolError"),
                        "500": _failure(
                            "Refused or failed, nothing changed; a retry may cure it: "
                            "not_settled (a retry after the settlement succeeds), "
                            "payment_not_approved (under review), internal_error",
                            "RefundFailure",
                        ),
                        "501": _answer(
                            "No retry can cure it, so a person refunds by hand "
                            "(refund-manually; our own code ends the message): more than "
                            "was settled and not yet refunded, an unknown or denied payment",
                            "RefundFailure",
                        ),
                    },
                },
                "401",
                "403",
            )
        },
        "/payments/{paymentId}/cancellations": {
            "post": _guarded(
                {
                    "operationId": "cancel_payment",
                    "summary": "Cancel a payment: no credit stays held",
                    "description": (
                        "In any state: a pending reservation is released, a settled one "
                        "refunds what is left, an undefined payment becomes denied, and a "
                        "payment never seen is recorded, so a later create for it is denied "
                        "(`payment_cancelled`). A `requestId` repeated replays the stored "
                        "answer."
                    ),
                    "parameters": [_PAYMENT_ID],
                    "requestBody": body,
                    "responses": {
                        "200": _answer("Cancelled (code cancelled)", "CancelAnswer"),
                        "400": _answer(_BAD_BODY, "ProtocolError"),
                        "500": _failure(
                            "A failure of ours (internal_error), nothing changed; the "
                            "gateway retries",
                            "CancelFailure",
                        ),
                        "501": _answer(
                            "Never answered: a cancellation is never refused, so "
                            "cancel-manually is not needed (the protocol lists it)",
                            "CancelFailure",
                        ),
                    },
                },
                "401",
                "403",
            )
        },
        **{
            f"/payments/{{paymentId}}/{segment}/{{action}}": {
                "post": _guarded(
                    {
                        "operationId": operation_id,
                        "summary": summary,
                        "description": "A webhook the gateway relays (beta), answered with "
                        "the payment's current state in responseData; the action changes "
                        "nothing. A payment never created is a 200 whose responseData has "
                        "statusCode 404 (payment_not_found), as VTEX's document lists only "
                        "a 200.",
                        "parameters": [
                            _PAYMENT_ID,
                            {"in": "path", "name": "action", "required": True, "schema": _STRING},
                        ],
                        "requestBody": {"required": True, "content": _json("InboundBody")},
                        "responses": {
                            "200": _answer("The payment's state, or its 404", "InboundAnswer"),
                            "400": _answer("The body is not JSON", "ProtocolError"),
                        },
                    },
                    "401",
                    "403",
                )
            }
            for segment, operation_id, summary in (
                ("inbound", "inbound_request", "An inbound request (webhook)"),
                ("inbound-request", "inbound_request_legacy", "An inbound request (older path)"),
            )
        },
    }


def _wire_types(converter: Any, field: Any, **kwargs: Any) -> dict[str, Any]:
    """The gateway's lenient fields as one JSON type each, what else they read in words."""
    accepts = ""
    if isinstance(field, schemas.Cents):
        typed: dict[str, Any] = {"type": "number", "format": AMOUNT_FORMAT}
        accepts = _AMOUNT_INPUT
    elif isinstance(field, schemas.Count):
        typed = {"type": "integer", "minimum": 0, "maximum": 1000}
        accepts = _COUNT_INPUT
    elif isinstance(field, schemas.Text):
        return {"type": "string", "maxLength": field.max_length}
    else:
        return {}
    said = kwargs["ret"].get("description")
    return {**typed, "description": "; ".join(t for t in (said, accepts) if t)}


COMPONENTS: dict[str, type[Schema]] = {  # nested schemas before the schemas holding them
    "Buyer": schemas.BuyerSchema,
    "MiniCart": schemas.MiniCartSchema,
    "Card": schemas.CardSchema,
    "CreatePaymentBody": schemas.CreatePaymentSchema,
    "PaymentOperationBody": schemas.OperationSchema,
    "InboundBody": InboundBody,
    "PaymentAnswer": PaymentAnswer,
    "SettleAnswer": SettleAnswer,
    "SettleFailure": SettleFailure,
    "RefundAnswer": RefundAnswer,
    "RefundFailure": RefundFailure,
    "CancelAnswer": CancelAnswer,
    "CancelFailure": CancelFailure,
    "ResponseData": ResponseData,
    "InboundAnswer": InboundAnswer,
    "ProtocolError": ProtocolError,
    "PaymentMethod": PaymentMethod,
    "CustomFieldOption": CustomFieldOption,
    "CustomField": CustomField,
    "AutoSettleDelay": AutoSettleDelay,
    "Manifest": Manifest,
    "PaymentMethods": PaymentMethods,
}


def document_protocol(spec: APISpec) -> None:
    """Add the protocol's tag, schemas and operations to the document."""
    plugin = next(p for p in spec.plugins if isinstance(p, MarshmallowPlugin))
    converter: Any = plugin.converter  # apispec's converter is untyped
    converter.add_attribute_function(_wire_types)
    spec.tag({"name": TAG, "description": TAG_DESCRIPTION})
    for name, schema in COMPONENTS.items():
        spec.components.schema(name, schema=schema)
    for path, operations in _operations().items():
        spec.path(path=path, operations=operations)
