"""The shape of a ``POST /payments`` answer, and the codes it carries."""

from __future__ import annotations

import secrets
from typing import Any

from connector.protocol.models import Payment

ACQUIRER = "CustomerCredit"
APPROVED, DENIED, UNDEFINED = "approved", "denied", "undefined"
MAX_DELAY_TO_AUTO_SETTLE = 604_800  # the protocol's ceiling: 7 days
DELAY_TO_CANCEL = 604_800  # how long the gateway waits on an undefined payment


def authorization_code() -> str:
    return secrets.token_hex(6).upper()


def nsu() -> str:
    return f"{secrets.randbelow(10**12):012d}"


def payment_response(payment: Payment) -> dict[str, Any]:
    """The answer for a payment's current state: the same on every repeat."""
    return {
        "paymentId": payment.payment_id,
        "status": payment.status,
        "authorizationId": payment.authorization_id if payment.status == APPROVED else None,
        "tid": payment.tid,
        "nsu": payment.nsu,
        "acquirer": ACQUIRER,
        "code": payment.code,
        "message": payment.message,
        "delayToAutoSettle": payment.delay_to_auto_settle_seconds,
        "delayToAutoSettleAfterAntifraud": payment.delay_to_auto_settle_seconds,
        "delayToCancel": DELAY_TO_CANCEL,
    }
