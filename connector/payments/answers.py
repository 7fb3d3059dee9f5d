"""What the gateway is told about a payment: its answer to ``POST /payments`` (also the body
of its callback), and the answers of its operations, stored for replay.

They live with the payment rather than in the protocol's edge because they are part of
its idempotency: a repeat, a replayed operation and a callback all answer exactly what
was stored.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from connector.errors import Code
from connector.money import cents_to_decimal
from connector.payments.models import Payment, PaymentStatus

ACQUIRER = "CustomerCredit"
MAX_DELAY_TO_AUTO_SETTLE = 604_800  # the protocol's ceiling: 7 days
DELAY_TO_CANCEL = 604_800  # how long the gateway waits on an undefined payment


def authorization_code() -> str:
    return secrets.token_hex(6).upper()


def nsu() -> str:
    return f"{secrets.randbelow(10**12):012d}"


def payment_response(payment: Payment | Mapping[str, Any]) -> dict[str, Any]:
    """The answer for a payment's current state (a row, or its columns): the same on
    every repeat."""
    field = payment.get if isinstance(payment, Mapping) else partial(getattr, payment)
    approved = field("status") == PaymentStatus.APPROVED
    return {
        "paymentId": field("payment_id"),
        "status": field("status"),
        "authorizationId": field("authorization_id") if approved else None,
        "tid": field("tid"),
        "nsu": field("nsu"),
        "acquirer": ACQUIRER,
        "code": field("code"),
        "message": field("message"),
        "delayToAutoSettle": field("delay_to_auto_settle_seconds"),
        "delayToAutoSettleAfterAntifraud": field("delay_to_auto_settle_seconds"),
        "delayToCancel": DELAY_TO_CANCEL,
    }


@dataclass(frozen=True)
class Answer:
    """An operation's HTTP status and body, as stored for replay."""

    http_status: int
    body: dict[str, Any]


# The id field of each operation's answer.
ID_FIELD = {"settle": "settleId", "cancel": "cancellationId", "refund": "refundId"}

# Refusals the gateway must hand to a person: a retry cannot cure them, and the document's
# 501 with its code tells the gateway to stop retrying and have the merchant act by hand.
_BY_HAND = {
    ("refund", Code.REFUND_EXCEEDS_SETTLED): Code.REFUND_MANUALLY,
    ("refund", Code.PAYMENT_NOT_FOUND): Code.REFUND_MANUALLY,
    ("refund", Code.PAYMENT_DENIED): Code.REFUND_MANUALLY,
}


def refusal(kind: str, payment_id: str, request_id: str, code: Code, message: str) -> Answer:
    """The protocol's failure body for a refused or failed operation: a null id, value 0.

    HTTP 500 as the published document lists it: the gateway retries for up to a day, which
    cures a refusal that depends on a state still moving (a payment under review, a refund
    before its settlement); a refusal that never cures is answered the same on every retry,
    as nothing changed. A refund that must be done by hand is a 501 with ``refund-manually``
    (our own code stays in the message), so the gateway stops retrying.
    """
    manual = _BY_HAND.get((kind, code))
    body: dict[str, Any] = {
        "paymentId": payment_id,
        ID_FIELD[kind]: None,
        "code": manual or code,
        "message": f"{message} ({code})" if manual else message,
        "requestId": request_id,
    }
    if kind != "cancel":
        body["value"] = 0
    return Answer(501 if manual else 500, body)


def money_answer(
    kind: str, payment_id: str, operation_id: str, request_id: str, value_cents: int
) -> Answer:
    """A settlement's or refund's answer: what it settled or refunded."""
    code = Code.SETTLED if kind == "settle" else Code.REFUNDED
    verb = "Settled" if kind == "settle" else "Refunded"
    value = cents_to_decimal(value_cents)
    return Answer(
        200,
        {
            "paymentId": payment_id,
            ID_FIELD[kind]: operation_id,
            "value": value,
            "code": code,
            "message": f"{verb} {value}",
            "requestId": request_id,
        },
    )


def cancel_answer(payment_id: str, operation_id: str, request_id: str) -> Answer:
    return Answer(
        200,
        {
            "paymentId": payment_id,
            "cancellationId": operation_id,
            "code": Code.CANCELLED,
            "message": "Payment cancelled; no credit is held for it",
            "requestId": request_id,
        },
    )
