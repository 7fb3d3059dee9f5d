"""The protocol's verbs: authorize, settle, cancel and refund a gateway payment.

A payment maps onto one credit reservation; these functions hold the protocol's rules
(idempotency by ``paymentId`` and ``requestId``, test-suite answers, response shapes) and
call the credit services for everything that touches credit. Like every service, they
take a Session and never commit: the route owns the transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit import rules
from connector.credit.accounts import (
    figures,
    find_account_for_buyer,
    has_closed_account,
    open_account,
)
from connector.credit.ledger import lock_reservation
from connector.credit.models import PENDING, POSTED, Account
from connector.credit.reservations import (
    refund_reservation,
    refundable_cents,
    release_reservation,
    reserve,
    settle_reservation,
)
from connector.credit.settings import StoreSettings, load_store_settings
from connector.errors import (
    ACCOUNT_CLOSED,
    CURRENCY_NOT_SUPPORTED,
    IDEMPOTENCY_CONFLICT,
    INSUFFICIENT_CREDIT,
    NO_ACCOUNT,
    Conflict,
    ConnectorError,
    CreditDenied,
    NotFound,
    ValidationError,
)
from connector.ids import new_id
from connector.money import cents_to_decimal
from connector.protocol import callbacks, reviews
from connector.protocol.answers import (
    APPROVED,
    DENIED,
    MAX_DELAY_TO_AUTO_SETTLE,
    UNDEFINED,
    authorization_code,
    nsu,
)
from connector.protocol.models import Payment, PaymentOperation
from connector.protocol.testsuite import ASYNC_DELAY_SECONDS, test_card

PAYMENT_METHOD = "Promissories"
PAYMENT_CANCELLED = "payment_cancelled"
_CANCELLED_FIRST = ""  # fingerprint of a payment whose cancellation arrived before its create


@dataclass(frozen=True)
class PaymentRequest:
    """What a ``POST /payments`` asks, once parsed."""

    payment_id: str
    value_cents: int
    currency: str
    installments: int
    buyer_email: str | None = None
    buyer_document: str | None = None
    buyer_document_type: str | None = None
    transaction_id: str | None = None
    order_id: str | None = None
    reference: str | None = None
    payment_method: str | None = None
    callback_url: str | None = None
    card_number: str | None = None
    test_suite: bool = False

    @classmethod
    def from_body(cls, data: dict[str, Any], *, test_suite: bool) -> PaymentRequest:
        buyer = (data.get("miniCart") or {}).get("buyer") or {}
        return cls(
            payment_id=data["paymentId"],
            value_cents=data["value"],
            currency=(data["currency"] or "").upper(),
            installments=data.get("installments") or 1,
            buyer_email=(buyer.get("email") or "").lower() or None,
            buyer_document=buyer.get("document"),
            buyer_document_type=buyer.get("documentType"),
            transaction_id=data.get("transactionId"),
            order_id=data.get("orderId"),
            reference=data.get("reference"),
            payment_method=data.get("paymentMethod"),
            callback_url=data.get("callbackUrl"),
            card_number=(data.get("card") or {}).get("number"),
            test_suite=test_suite,
        )

    def fingerprint(self) -> str:
        """What a repeat must not change: value, currency, installments, buyer, mode."""
        parts = [
            str(self.value_cents),
            self.currency,
            str(self.installments),
            self.buyer_email or "",
            self.buyer_document or "",
            f"test:{self.card_number}" if self.test_suite else "live",
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _auto_settle_delay(settled_at: datetime, now: datetime) -> int:
    """Seconds until auto-settlement, within the protocol's bounds (never zero)."""
    seconds = int((settled_at - now).total_seconds())
    return max(1, min(MAX_DELAY_TO_AUTO_SETTLE, seconds))


def _store_window(settings: StoreSettings, now: datetime) -> datetime:
    return rules.add_business_days(now, settings.auto_settle_business_days, settings.is_holiday())


def new_payment(request: PaymentRequest, now: datetime) -> dict[str, Any]:
    """The columns of a payment not yet decided: denied until a decision says otherwise."""
    return {
        "payment_id": request.payment_id,
        "transaction_id": request.transaction_id,
        "order_id": request.order_id,
        "reference": request.reference,
        "account_id": None,
        "reservation_id": None,
        "status": DENIED,
        "code": None,
        "message": None,
        "value_cents": request.value_cents,
        "currency": request.currency[:3],
        "installments": request.installments,
        "buyer_email": request.buyer_email,
        "buyer_document": request.buyer_document,
        "fingerprint": request.fingerprint(),
        "authorization_id": None,
        "tid": new_id(),
        "nsu": nsu(),
        "callback_url": request.callback_url,
        "test_suite": request.test_suite,
        "payment_method": request.payment_method,
        "delay_to_auto_settle_seconds": 0,  # the reservation's, or the store's window
        "cancelled_at": None,
        "created_at": now,
        "updated_at": now,
    }


def approval(reservation_id: str, auto_settle_at: datetime | None, now: datetime) -> dict[str, Any]:
    """The columns that make a payment approved on a reservation."""
    approved: dict[str, Any] = {
        "status": APPROVED,
        "code": "approved",
        "message": "Credit reserved",
        "reservation_id": reservation_id,
        "authorization_id": authorization_code(),
    }
    if auto_settle_at is not None:  # protocol reservations always auto-settle
        approved["delay_to_auto_settle_seconds"] = _auto_settle_delay(auto_settle_at, now)
    return approved


def authorize_payment(
    session: Session, request: PaymentRequest, *, now: datetime, look_up: bool = True
) -> Payment:
    """Answer a create: the stored answer for a known ``paymentId``, else decide one.

    A repeat with different value, currency, installments or buyer is refused with
    ``idempotency_conflict`` and leaves the original untouched. Without ``look_up`` the
    payment is assumed new: a repeat then collides on the primary key, its transaction
    (reservation included) rolls back, and the caller retries with ``look_up`` to replay.
    Repeats are rare, so skipping the look-up saves a query on almost every create.
    """
    existing = session.get(Payment, request.payment_id) if look_up else None
    if existing is not None:
        if existing.fingerprint not in (_CANCELLED_FIRST, request.fingerprint()):
            raise ValidationError(
                f"payment {request.payment_id} was already created with other values",
                code=IDEMPOTENCY_CONFLICT,
            )
        return existing
    settings = load_store_settings(session)
    payment = Payment(**new_payment(request, now))
    if request.test_suite:
        _decide_by_test_card(session, payment, request, settings, now)
    else:
        _decide_by_credit(session, payment, request, settings, now)
    session.flush()
    return payment


def _use_store_window(payment: Payment, settings: StoreSettings, now: datetime) -> None:
    """Without a reservation, the auto-settle delay is the store's window from now."""
    payment.delay_to_auto_settle_seconds = _auto_settle_delay(_store_window(settings, now), now)


def _decide_by_test_card(
    session: Session,
    payment: Payment,
    request: PaymentRequest,
    settings: StoreSettings,
    now: datetime,
) -> None:
    """Homologation traffic: the card number decides, and no credit is touched."""
    _use_store_window(payment, settings, now)
    card = test_card(request.card_number)
    payment.status, payment.code, payment.message = card.status, card.code, card.message
    if card.status == APPROVED:
        payment.authorization_id = authorization_code()
    session.add(payment)
    if card.final_status is not None:
        session.flush()  # the callback references the payment
        callbacks.schedule_callback(
            session,
            payment,
            final_status=card.final_status,
            code=card.code,
            message=f"Test card {card.final_status}",
            due_at=now + timedelta(seconds=ASYNC_DELAY_SECONDS),
            now=now,
        )


def _find_or_open_account(
    session: Session, request: PaymentRequest, settings: StoreSettings
) -> str:
    account = find_account_for_buyer(
        session,
        email=request.buyer_email,
        document=request.buyer_document,
        document_type=request.buyer_document_type,
        lock=True,  # found and locked in one query; reserve() then needs no second lock
    )
    if account is not None:
        return account.id
    if request.buyer_email and has_closed_account(session, request.buyer_email):
        raise CreditDenied("the buyer's credit account is closed", code=ACCOUNT_CLOSED)
    if settings.automatic_account_creation_enabled and request.buyer_email:
        try:
            return open_account(
                session,
                email=request.buyer_email,
                credit_limit_cents=settings.default_credit_cents,
                document=request.buyer_document,
                document_type=request.buyer_document_type,
                done_by="checkout",
            ).id
        except ConnectorError:
            pass  # an unusable e-mail or document: no account, denied below
    raise CreditDenied("the buyer has no credit account", code=NO_ACCOUNT)


def _spending_power(session: Session, account_id: str, settings: StoreSettings) -> int:
    account = session.get(Account, account_id)
    assert account is not None
    return figures(account, settings).spending_power_cents


def _decide_by_credit(
    session: Session,
    payment: Payment,
    request: PaymentRequest,
    settings: StoreSettings,
    now: datetime,
) -> None:
    """Live traffic: find the buyer's account and reserve, or record why not."""
    try:
        if request.currency != settings.currency:
            raise CreditDenied(
                f"{request.currency} is not accepted; this store sells in {settings.currency}",
                code=CURRENCY_NOT_SUPPORTED,
            )
        if request.payment_method not in (None, PAYMENT_METHOD):
            raise CreditDenied(
                f"{request.payment_method} is not paid with customer credit",
                code="payment_method_not_supported",
            )
        payment.account_id = _find_or_open_account(session, request, settings)
        reservation = reserve(
            session,
            payment.account_id,
            request.value_cents,
            installments=request.installments,
            holder_email=request.buyer_email,
            order_id=request.order_id or request.reference,
            settings=settings,
            now=now,
        )
    except CreditDenied as denial:
        _use_store_window(payment, settings, now)
        session.add(payment)
        if (
            denial.code == INSUFFICIENT_CREDIT
            and settings.over_limit_review_enabled
            and payment.account_id is not None
        ):
            session.flush()  # the review references the payment
            reviews.open_review(
                session,
                payment,
                account_id=payment.account_id,
                spending_power_cents=_spending_power(session, payment.account_id, settings),
                now=now,
            )
            return
        payment.status, payment.code, payment.message = DENIED, denial.code, denial.message
        return
    for name, value in approval(reservation.id, reservation.auto_settle_at, now).items():
        setattr(payment, name, value)
    session.add(payment)


@dataclass(frozen=True)
class Answer:
    """An operation's HTTP status and body, as stored for replay."""

    http_status: int
    body: dict[str, Any]


class Refused(Exception):
    """A well-formed operation the payment's state does not allow."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_ID_FIELD = {"settle": "settleId", "cancel": "cancellationId", "refund": "refundId"}
REFUSED_STATUS = 422  # not 500: the gateway counts 5xx towards its contingency mode


def refusal(kind: str, payment_id: str, request_id: str, refused: Refused) -> Answer:
    """The protocol's failure body for a refused operation: a null id (and value 0)."""
    body: dict[str, Any] = {
        "paymentId": payment_id,
        _ID_FIELD[kind]: None,
        "code": refused.code,
        "message": refused.message,
        "requestId": request_id,
    }
    if kind != "cancel":
        body["value"] = 0
    return Answer(REFUSED_STATUS, body)


def _replay(session: Session, payment_id: str, request_id: str, kind: str) -> Answer | None:
    done = session.scalar(
        select(PaymentOperation).where(
            PaymentOperation.payment_id == payment_id, PaymentOperation.request_id == request_id
        )
    )
    if done is None:
        return None
    if done.kind != kind:
        raise ValidationError(
            f"requestId {request_id} was already used for a {done.kind}",
            code=IDEMPOTENCY_CONFLICT,
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


def _finish(operation: PaymentOperation, value_cents: int, body: dict[str, Any]) -> Answer:
    operation.value_cents = value_cents
    operation.http_status = 200
    operation.response = body
    return Answer(200, body)


def _locked_payment(session: Session, payment_id: str) -> Payment | None:
    return session.get(Payment, payment_id, with_for_update=True, populate_existing=True)


def _require_approved(payment: Payment) -> None:
    if payment.status != APPROVED:
        raise Refused("payment_not_approved", f"payment {payment.payment_id} is {payment.status}")


def _credit_refusal(error: ConnectorError) -> Refused:
    codes = {"transaction_released": PAYMENT_CANCELLED, "transaction_not_settled": "not_settled"}
    return Refused(codes.get(error.code, error.code), error.message)


def _money_operation(
    session: Session,
    kind: str,
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
    replayed = _replay(session, payment_id, request_id, kind)
    if replayed is not None:
        return replayed
    payment = _locked_payment(session, payment_id)
    if payment is None:
        raise NotFound(f"payment {payment_id} not found", code="payment_not_found")
    operation = _start(session, payment_id, request_id, kind, now)
    _require_approved(payment)
    if payment.test_suite:
        done = value_cents or payment.value_cents
    else:
        assert payment.reservation_id is not None
        try:
            done = act(payment.reservation_id)
        except (CreditDenied, Conflict) as error:
            raise _credit_refusal(error) from error
    payment.updated_at = now
    verb = {"settle": "Settled", "refund": "Refunded"}[kind]
    return _finish(
        operation,
        done,
        {
            "paymentId": payment_id,
            _ID_FIELD[kind]: operation.id,
            "value": cents_to_decimal(done),
            "code": verb.lower(),
            "message": f"{verb} {cents_to_decimal(done)}",
            "requestId": request_id,
        },
    )


def settle_payment(
    session: Session, payment_id: str, request_id: str, value_cents: int | None, *, now: datetime
) -> Answer:
    """Settle all (no value) or part of a payment; a later settlement changes the total."""

    def act(reservation_id: str) -> int:
        return settle_reservation(
            session, reservation_id, value_cents, done_by="gateway", now=now
        ).settled_cents

    return _money_operation(session, "settle", payment_id, request_id, value_cents, act, now=now)


def refund_payment(
    session: Session, payment_id: str, request_id: str, value_cents: int | None, *, now: datetime
) -> Answer:
    """Refund part (or, with no value, the rest) of a settled payment."""

    def act(reservation_id: str) -> int:
        return refund_reservation(
            session, reservation_id, value_cents, done_by="gateway", now=now
        ).refunded_cents

    return _money_operation(session, "refund", payment_id, request_id, value_cents, act, now=now)


def _cancelled_first(session: Session, payment_id: str, now: datetime) -> Payment:
    """Record a cancellation that arrived before its create: the create will be denied."""
    payment = Payment(
        payment_id=payment_id,
        status=DENIED,
        code=PAYMENT_CANCELLED,
        message="the payment was cancelled before it was authorized",
        value_cents=0,
        currency="",
        installments=1,
        fingerprint=_CANCELLED_FIRST,
        tid=new_id(),
        nsu=nsu(),
        test_suite=False,
        delay_to_auto_settle_seconds=MAX_DELAY_TO_AUTO_SETTLE,
        cancelled_at=now,
        created_at=now,
        updated_at=now,
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
    replayed = _replay(session, payment_id, request_id, "cancel")
    if replayed is not None:
        return replayed
    payment = _locked_payment(session, payment_id) or _cancelled_first(session, payment_id, now)
    operation = _start(session, payment_id, request_id, "cancel", now)
    returned = 0
    if payment.status == UNDEFINED:
        payment.status, payment.code = DENIED, PAYMENT_CANCELLED
        payment.message = "cancelled before a decision"
        callbacks.withdraw_callback(session, payment.payment_id)
        reviews.withdraw_review(session, payment.payment_id, now)
    elif payment.status == APPROVED and payment.reservation_id is not None:
        returned = _give_back(session, payment.reservation_id, now)
    payment.cancelled_at = payment.cancelled_at or now
    payment.updated_at = now
    return _finish(
        operation,
        returned,
        {
            "paymentId": payment_id,
            "cancellationId": operation.id,
            "code": "cancelled",
            "message": "Payment cancelled; no credit is held for it",
            "requestId": request_id,
        },
    )


def _give_back(session: Session, reservation_id: str, now: datetime) -> int:
    """Release a pending reservation, or refund what is left of a settled one."""
    _account, reservation = lock_reservation(session, reservation_id)  # fresh, under the lock
    if reservation.status == PENDING:
        held = reservation.value_cents
        release_reservation(session, reservation_id, now=now)
        return held
    if reservation.status == POSTED:
        left = refundable_cents(reservation)
        if left:
            refund_reservation(session, reservation_id, left, done_by="gateway", now=now)
        return left
    return 0
