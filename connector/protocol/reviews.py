"""Over-limit review: a purchase above the credit waits for staff instead of being denied.

When the store enables ``overLimitReviewEnabled``, such a purchase answers ``undefined``
and opens a review. Staff approve it (credit is reserved above the limit) or deny it;
either way the decision is stored on the payment first and then sent to the gateway
through the payment's durable callback.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit.reservations import reserve
from connector.errors import Conflict, NotFound, ValidationError
from connector.ids import new_id, utcnow
from connector.protocol import callbacks
from connector.protocol.answers import (
    APPROVED,
    DENIED,
    UNDEFINED,
    authorization_code,
)
from connector.protocol.models import Payment, PaymentReview

UNDER_REVIEW = "under_review"
REVIEW_DENIED = "review_denied"
PENDING, REVIEW_APPROVED, REVIEW_REFUSED, WITHDRAWN = "pending", "approved", "denied", "cancelled"


def open_review(
    session: Session,
    payment: Payment,
    *,
    account_id: str,
    spending_power_cents: int,
    now: datetime,
) -> PaymentReview:
    """Put a payment on hold for staff: it answers ``undefined`` until they decide."""
    payment.status, payment.code = UNDEFINED, UNDER_REVIEW
    payment.message = "The purchase exceeds the available credit and awaits the store's review"
    payment.account_id = account_id
    review = PaymentReview(
        id=new_id(),
        payment_id=payment.payment_id,
        account_id=account_id,
        value_cents=payment.value_cents,
        spending_power_cents=spending_power_cents,
        status=PENDING,
        created_at=now,
        decided_at=None,
        decided_by=None,
        note=None,
    )
    session.add(review)
    return review


def list_reviews(session: Session, status: str | None = PENDING) -> list[PaymentReview]:
    query = select(PaymentReview).order_by(PaymentReview.created_at, PaymentReview.id)
    if status is not None:
        query = query.where(PaymentReview.status == status)
    return list(session.scalars(query))


def _lock(session: Session, review_id: str) -> tuple[Payment, PaymentReview]:
    """Lock the payment, then read its review fresh (the lock order of every payment change)."""
    payment_id = session.scalar(
        select(PaymentReview.payment_id).where(PaymentReview.id == review_id)
    )
    if payment_id is None:
        raise NotFound(f"review {review_id} not found", code="review_not_found")
    payment = session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
    review = session.get(PaymentReview, review_id, populate_existing=True)
    assert payment is not None and review is not None
    if review.status != PENDING or payment.status != UNDEFINED:
        raise Conflict(f"review {review_id} is already {review.status}", code="review_decided")
    return payment, review


def _decide(
    review: PaymentReview, status: str, done_by: str | None, note: str | None, now: datetime
) -> None:
    if note is not None and len(note) > 2000:
        raise ValidationError("note too long", fields={"note": "at most 2000 characters"})
    review.status, review.decided_at, review.decided_by, review.note = status, now, done_by, note


def approve_review(
    session: Session,
    review_id: str,
    *,
    done_by: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> PaymentReview:
    """Reserve the purchase above the limit and tell the gateway it is approved."""
    now = now or utcnow()
    payment, review = _lock(session, review_id)
    _decide(review, REVIEW_APPROVED, done_by, note, now)
    reservation = reserve(
        session,
        review.account_id,
        review.value_cents,
        installments=payment.installments,
        holder_email=payment.buyer_email,
        order_id=payment.order_id or payment.reference,
        over_limit=True,
        now=now,
    )
    payment.reservation_id = reservation.id
    payment.status, payment.code = APPROVED, "approved"
    payment.message = "Credit reserved after the store's review"
    payment.authorization_id = authorization_code()
    payment.updated_at = now
    callbacks.schedule_callback(
        session,
        payment,
        final_status=APPROVED,
        code=payment.code,
        message=payment.message,
        due_at=now,
        now=now,
    )
    session.flush()
    return review


def deny_review(
    session: Session,
    review_id: str,
    *,
    done_by: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> PaymentReview:
    """Refuse the purchase and tell the gateway it is denied."""
    now = now or utcnow()
    payment, review = _lock(session, review_id)
    _decide(review, REVIEW_REFUSED, done_by, note, now)
    payment.status, payment.code = DENIED, REVIEW_DENIED
    payment.message = "The store declined the purchase above the credit limit"
    payment.updated_at = now
    callbacks.schedule_callback(
        session,
        payment,
        final_status=DENIED,
        code=payment.code,
        message=payment.message,
        due_at=now,
        now=now,
    )
    session.flush()
    return review


def withdraw_review(session: Session, payment_id: str, now: datetime) -> None:
    """The gateway cancelled the payment: its review is closed without a decision."""
    review = session.scalar(select(PaymentReview).where(PaymentReview.payment_id == payment_id))
    if review is not None and review.status == PENDING:
        review.status, review.decided_at, review.decided_by = WITHDRAWN, now, "gateway"


def list_decided_reviews(session: Session, limit: int = 20) -> list[PaymentReview]:
    """The latest decisions (approved, denied or withdrawn), newest first."""
    return list(
        session.scalars(
            select(PaymentReview)
            .where(PaymentReview.status != PENDING)
            .order_by(PaymentReview.decided_at.desc(), PaymentReview.id.desc())
            .limit(limit)
        )
    )
