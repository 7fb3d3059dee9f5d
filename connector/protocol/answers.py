"""The shape of a ``POST /payments`` answer, and the codes it carries."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from functools import partial
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


def payment_response(payment: Payment | Mapping[str, Any]) -> dict[str, Any]:
    """The answer for a payment's current state (a row, or its columns): the same on
    every repeat."""
    field = payment.get if isinstance(payment, Mapping) else partial(getattr, payment)
    approved = field("status") == APPROVED
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
