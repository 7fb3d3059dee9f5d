"""Authorizing a gateway payment: the stored answer for a repeat, else a decision.

A live payment maps onto one credit reservation of the buyer's account; a homologation
(test-suite) payment is decided by its card number and touches no credit. Like every
service, these functions take a Session and never commit: the route owns the transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from connector.credit.accounts import figures, open_account
from connector.credit.holders import find_account_for_buyer, has_closed_account
from connector.credit.models import Account
from connector.credit.reservations import reserve
from connector.credit.settings import StoreSettings, load_store_settings
from connector.errors import Code, ConnectorError, CreditDenied, ValidationError
from connector.ids import new_id
from connector.payments import callbacks, reviews, states
from connector.payments.answers import nsu
from connector.payments.models import Payment, PaymentStatus
from connector.payments.testsuite import ASYNC_DELAY_SECONDS, test_card

PAYMENT_METHOD = "Promissories"
CANCELLED_FIRST = ""  # fingerprint of a payment whose cancellation arrived before its create


@dataclass(frozen=True)
class PaymentRequest:
    """What a ``POST /payments`` asks, once read from the wire."""

    payment_id: str
    value_cents: int
    currency: str
    installments: int
    buyer_email: str | None = None
    buyer_document: str | None = None
    buyer_document_type: str | None = None
    gateway_transaction_id: str | None = None
    order_id: str | None = None
    reference: str | None = None
    payment_method: str | None = None
    callback_url: str | None = None
    card_number: str | None = None
    test_suite: bool = False
    # The gateway's installmentsValue: each installment as agreed, interest included.
    installment_value_cents: int | None = None

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


def check_payment(request: PaymentRequest, settings: StoreSettings) -> None:
    """Refuse a live purchase the store does not take: another currency or payment method.

    Then the buyer's account and ``reserve`` decide (installments offered, account open,
    credit enough); the express path asks the same questions, through this function and
    ``reservations.plan_for``.
    """
    if request.currency != settings.currency:
        raise CreditDenied(
            "{currency} is not accepted; this store sells in {store_currency}",
            code=Code.CURRENCY_NOT_SUPPORTED,
            currency=request.currency,
            store_currency=settings.currency,
        )
    if request.payment_method not in (None, PAYMENT_METHOD):
        raise CreditDenied(
            "{method} is not paid with customer credit",
            code=Code.PAYMENT_METHOD_NOT_SUPPORTED,
            method=request.payment_method,
        )


def new_payment(request: PaymentRequest, now: datetime) -> dict[str, Any]:
    """The columns of a payment not yet decided (its status is set by a transition)."""
    return {
        "payment_id": request.payment_id,
        "gateway_transaction_id": request.gateway_transaction_id,
        "order_id": request.order_id,
        "reference": request.reference,
        "account_id": None,
        "reservation_id": None,
        "status": None,
        "code": None,
        "message": None,
        "value_cents": request.value_cents,
        "currency": request.currency[:3],
        "installments": request.installments,
        "installment_value_cents": request.installment_value_cents,
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
        if existing.fingerprint not in (CANCELLED_FIRST, request.fingerprint()):
            raise ValidationError(
                "payment {payment} was already created with other values",
                code=Code.IDEMPOTENCY_CONFLICT,
                payment=request.payment_id,
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
    payment.delay_to_auto_settle_seconds = states.auto_settle_delay(
        settings.auto_settle_at(now), now
    )


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
    if card.status == PaymentStatus.APPROVED:
        states.approve(payment, reservation_id=None, code=card.code, message=card.message, now=now)
    elif card.status == PaymentStatus.DENIED:
        states.deny(payment, card.code, card.message, now=now)
    else:
        states.await_decision(payment, card.code, card.message, now=now)
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
        raise CreditDenied("the buyer's credit account is closed", code=Code.ACCOUNT_CLOSED)
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
    raise CreditDenied("the buyer has no credit account", code=Code.NO_ACCOUNT)


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
        check_payment(request, settings)
        payment.account_id = _find_or_open_account(session, request, settings)
        reservation = reserve(
            session,
            payment.account_id,
            request.value_cents,
            installments=request.installments,
            installment_value_cents=request.installment_value_cents,
            holder_email=request.buyer_email,
            order_id=request.order_id or request.reference,
            settings=settings,
            now=now,
        )
    except CreditDenied as denial:
        _use_store_window(payment, settings, now)
        session.add(payment)
        if (
            denial.code == Code.INSUFFICIENT_CREDIT
            and settings.over_limit_review_enabled
            and payment.account_id is not None
        ):
            reviews.open_review(
                session,
                payment,
                account_id=payment.account_id,
                spending_power_cents=_spending_power(session, payment.account_id, settings),
                now=now,
            )
            return
        states.deny(payment, denial.code, denial.message, now=now)
        return
    states.approve(
        payment, reservation_id=reservation.id, auto_settle_at=reservation.auto_settle_at, now=now
    )
    session.add(payment)
