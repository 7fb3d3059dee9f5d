"""A payment's states and the transitions between them, each in one function.

    (new) --approve--> approved --settle/refund/cancel--> approved (cancelled_at set)
    (new) --deny-----> denied
    (new) --await----> undefined --approve | deny--> approved | denied
                       undefined --cancel----------> denied (payment_cancelled)

A payment is decided once: ``approved`` and ``denied`` are final (a cancellation of an
approved payment gives its credit back but leaves what the gateway was told). Only an
``undefined`` one is decided later, by a review or by its callback. Every change of
``status`` goes through ``_move``, which refuses any other transition.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connector.errors import Code
from connector.payments.answers import MAX_DELAY_TO_AUTO_SETTLE, authorization_code
from connector.payments.models import Payment, PaymentStatus

_ALLOWED: dict[str | None, frozenset[PaymentStatus]] = {
    None: frozenset(PaymentStatus),
    PaymentStatus.UNDEFINED: frozenset({PaymentStatus.APPROVED, PaymentStatus.DENIED}),
}


class InvalidTransition(Exception):
    """A change of state the payment's life does not have: a bug, never a client's input."""


class Refused(Exception):
    """A well-formed operation the payment's state does not allow."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _move(payment: Payment, to: PaymentStatus, code: str | None, message: str | None) -> None:
    if to not in _ALLOWED.get(payment.status, frozenset()):
        raise InvalidTransition(f"payment {payment.payment_id}: {payment.status} -> {to}")
    payment.status, payment.code, payment.message = to, code, message


def auto_settle_delay(auto_settle_at: datetime, now: datetime) -> int:
    """Seconds until auto-settlement, within the protocol's bounds (never zero)."""
    seconds = int((auto_settle_at - now).total_seconds())
    return max(1, min(MAX_DELAY_TO_AUTO_SETTLE, seconds))


def approval(
    reservation_id: str | None, auto_settle_at: datetime | None, now: datetime
) -> dict[str, Any]:
    """The columns that make a new payment approved on a reservation (the express path
    writes them in its statement; ``approve`` sets them on a row)."""
    approved: dict[str, Any] = {
        "status": PaymentStatus.APPROVED,
        "code": Code.APPROVED,
        "message": "Credit reserved",
        "reservation_id": reservation_id,
        "authorization_id": authorization_code(),
    }
    if auto_settle_at is not None:  # protocol reservations always auto-settle
        approved["delay_to_auto_settle_seconds"] = auto_settle_delay(auto_settle_at, now)
    return approved


def approve(
    payment: Payment,
    *,
    reservation_id: str | None,
    auto_settle_at: datetime | None = None,
    code: str = Code.APPROVED,
    message: str = "Credit reserved",
    now: datetime,
) -> None:
    """Approve: credit is reserved for it (a test card's approval reserves none)."""
    values = approval(reservation_id, auto_settle_at, now)
    del values["status"], values["code"], values["message"]
    _move(payment, PaymentStatus.APPROVED, code, message)
    for name, value in values.items():
        setattr(payment, name, value)
    payment.updated_at = now


def denial(code: str, message: str) -> dict[str, Any]:
    """The columns that make a new payment denied (the express path writes them)."""
    return {"status": PaymentStatus.DENIED, "code": code, "message": message}


def deny(payment: Payment, code: str, message: str, *, now: datetime) -> None:
    values = denial(code, message)
    _move(payment, values["status"], values["code"], values["message"])
    payment.updated_at = now


def await_decision(payment: Payment, code: str, message: str, *, now: datetime) -> None:
    """Answer ``undefined``: a review or a test card's callback decides later."""
    _move(payment, PaymentStatus.UNDEFINED, code, message)
    payment.updated_at = now


def decide(
    payment: Payment, status: str, code: str | None, message: str | None, *, now: datetime
) -> None:
    """Apply the final answer of an undefined payment (its callback's), once."""
    if payment.status != PaymentStatus.UNDEFINED:
        return  # decided already: by a review, or cancelled first
    _move(payment, PaymentStatus(status), code, message)
    if payment.status == PaymentStatus.APPROVED and payment.authorization_id is None:
        payment.authorization_id = authorization_code()
    payment.updated_at = now


def require_approved(payment: Payment) -> None:
    """Settling and refunding need an approved payment; a denied one will never be."""
    if payment.status == PaymentStatus.DENIED:
        raise Refused(Code.PAYMENT_DENIED, f"payment {payment.payment_id} was denied")
    if payment.status != PaymentStatus.APPROVED:
        raise Refused(
            Code.PAYMENT_NOT_APPROVED, f"payment {payment.payment_id} is {payment.status}"
        )


def require_not_cancelled(payment: Payment) -> None:
    """A cancelled order is settled no more: what it held was given back for good."""
    if payment.cancelled_at is not None:
        raise Refused(Code.PAYMENT_CANCELLED, f"payment {payment.payment_id} was cancelled")


def cancel(payment: Payment, *, now: datetime) -> bool:
    """Record a cancellation; an undefined payment becomes denied. Whether it was undefined."""
    was_undefined = payment.status == PaymentStatus.UNDEFINED
    if was_undefined:
        _move(payment, PaymentStatus.DENIED, Code.PAYMENT_CANCELLED, "cancelled before a decision")
    payment.cancelled_at = payment.cancelled_at or now
    payment.updated_at = now
    return was_undefined
