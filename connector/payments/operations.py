"""A payment's operations: settle, refund and cancel, each replayed by its ``requestId``.

The ``requestId`` is claimed first (unique with the payment id), so a concurrent twin
blocks on the key and then replays the stored answer. A repeat that asks for another
value than the first did is a conflict and changes nothing. A refusal (the payment's
state does not allow it) is not stored, so the gateway may retry once the state allows it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit.settlements import give_back, refund_reservation, settle_reservation
from connector.errors import Code, Conflict, CreditDenied, ValidationError
from connector.ids import new_id
from connector.money import cents_to_decimal
from connector.payments import callbacks, reviews, states
from connector.payments.answers import (
    MAX_DELAY_TO_AUTO_SETTLE,
    Answer,
    cancel_answer,
    money_answer,
    nsu,
)
from connector.payments.authorization import CANCELLED_FIRST
from connector.payments.models import OperationKind, Payment, PaymentOperation, PaymentStatus
from connector.payments.states import Refused

# How a credit refusal reads to the gateway, where the protocol has a word of its own.
_PROTOCOL_CODES = {
    Code.TRANSACTION_RELEASED: Code.PAYMENT_CANCELLED,
    Code.TRANSACTION_NOT_SETTLED: Code.NOT_SETTLED,
}


def _replay(
    session: Session,
    payment_id: str,
    request_id: str,
    kind: str,
    value_cents: int | None = None,
) -> Answer | None:
    """The stored answer of a repeated ``requestId``, or None for a new one.

    A repeat must be the same request: another kind, or a value other than the one the
    first did, is refused. A repeat without a value replays what was done.
    """
    done = session.scalar(
        select(PaymentOperation).where(
            PaymentOperation.payment_id == payment_id, PaymentOperation.request_id == request_id
        )
    )
    if done is None:
        return None
    if done.kind != kind:
        raise ValidationError(
            "requestId {request} was already used for a {kind}",
            code=Code.IDEMPOTENCY_CONFLICT,
            request=request_id,
            kind=done.kind,
        )
    if value_cents is not None and value_cents != done.value_cents:
        raise ValidationError(
            "requestId {request} was a {kind} of {done}; this repeat asks for {asked}",
            code=Code.IDEMPOTENCY_CONFLICT,
            request=request_id,
            kind=done.kind,
            done=cents_to_decimal(done.value_cents),
            asked=cents_to_decimal(value_cents),
        )
    return Answer(done.http_status, done.response)


def _start(
    session: Session, payment_id: str, request_id: str, kind: str, now: datetime
) -> PaymentOperation:
    """Claim the ``requestId`` first: a concurrent twin blocks on the unique key, then replays."""
    operation = PaymentOperation(
        id=new_id(),
        payment_id=payment_id,
        request_id=request_id,
        kind=kind,
        value_cents=0,
        http_status=0,
        response={},
        created_at=now,
    )
    session.add(operation)
    session.flush()
    return operation


def _finish(operation: PaymentOperation, value_cents: int, answer: Answer) -> Answer:
    operation.value_cents = value_cents
    operation.http_status = answer.http_status
    operation.response = answer.body
    return answer


def _locked_payment(session: Session, payment_id: str) -> Payment | None:
    return session.get(Payment, payment_id, with_for_update=True, populate_existing=True)


def _money_operation(
    session: Session,
    kind: OperationKind,
    payment_id: str,
    request_id: str,
    value_cents: int | None,
    act: Callable[[str], int],
    *,
    now: datetime,
) -> Answer:
    """Settle or refund: replay, lock, claim the requestId, act on credit, record the answer.

    ``act`` receives the reservation id and returns the value it settled or refunded.
    Test-suite payments touch no credit: the asked value (or the payment's) is echoed.
    """
    replayed = _replay(session, payment_id, request_id, kind, value_cents)
    if replayed is not None:
        return replayed
    payment = _locked_payment(session, payment_id)
    if payment is None:
        raise Refused(Code.PAYMENT_NOT_FOUND, f"payment {payment_id} not found")
    operation = _start(session, payment_id, request_id, kind, now)
    states.require_approved(payment)
    if kind == OperationKind.SETTLE:
        states.require_not_cancelled(payment)
    if payment.test_suite:
        done = value_cents or payment.value_cents
    else:
        assert payment.reservation_id is not None
        try:
            done = act(payment.reservation_id)
        except (CreditDenied, Conflict) as error:
            raise Refused(_PROTOCOL_CODES.get(error.code, error.code), error.message) from error
    payment.updated_at = now
    return _finish(operation, done, money_answer(kind, payment_id, operation.id, request_id, done))


def settle_payment(
    session: Session, payment_id: str, request_id: str, value_cents: int | None, *, now: datetime
) -> Answer:
    """Settle all (no value) or part of a payment; a later settlement changes the total."""

    def act(reservation_id: str) -> int:
        return settle_reservation(
            session, reservation_id, value_cents, done_by="gateway", now=now
        ).settled_cents

    return _money_operation(
        session, OperationKind.SETTLE, payment_id, request_id, value_cents, act, now=now
    )


def refund_payment(
    session: Session, payment_id: str, request_id: str, value_cents: int | None, *, now: datetime
) -> Answer:
    """Refund part (or, with no value, the rest) of a settled payment."""

    def act(reservation_id: str) -> int:
        return refund_reservation(
            session, reservation_id, value_cents, done_by="gateway", now=now
        ).refunded_cents

    return _money_operation(
        session, OperationKind.REFUND, payment_id, request_id, value_cents, act, now=now
    )


def _cancelled_first(session: Session, payment_id: str, now: datetime) -> Payment:
    """Record a cancellation that arrived before its create: the create will be denied."""
    payment = Payment(
        payment_id=payment_id,
        status=None,
        value_cents=0,
        currency="",
        installments=1,
        fingerprint=CANCELLED_FIRST,
        tid=new_id(),
        nsu=nsu(),
        test_suite=False,
        delay_to_auto_settle_seconds=MAX_DELAY_TO_AUTO_SETTLE,
        cancelled_at=now,
        created_at=now,
        updated_at=now,
    )
    states.deny(
        payment,
        Code.PAYMENT_CANCELLED,
        "the payment was cancelled before it was authorized",
        now=now,
    )
    session.add(payment)
    session.flush()  # a create racing this one now collides on the primary key
    return payment


def cancel_payment(session: Session, payment_id: str, request_id: str, *, now: datetime) -> Answer:
    """Cancel a payment so that no credit stays held for it, whatever its state.

    Pending: the reservation is released. Settled: acts as a refund of what is left, so a
    cancelled order never keeps credit consumed. Undefined: it becomes denied and its
    callback is withdrawn. Unknown: recorded, so a late create is denied.
    """
    replayed = _replay(session, payment_id, request_id, OperationKind.CANCEL)
    if replayed is not None:
        return replayed
    payment = _locked_payment(session, payment_id) or _cancelled_first(session, payment_id, now)
    operation = _start(session, payment_id, request_id, OperationKind.CANCEL, now)
    returned = 0
    if payment.status == PaymentStatus.APPROVED and payment.reservation_id is not None:
        returned = give_back(session, payment.reservation_id, done_by="gateway", now=now)
    if states.cancel(payment, now=now):
        callbacks.withdraw_callback(session, payment.payment_id)
        reviews.withdraw_review(session, payment.payment_id, now)
    return _finish(operation, returned, cancel_answer(payment_id, operation.id, request_id))
