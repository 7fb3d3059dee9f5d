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

from connector import audit
from connector.clock import utcnow
from connector.credit.reservations import reserve
from connector.errors import Code, Conflict, NotFound, Reason, ValidationError
from connector.ids import new_id
from connector.payments import callbacks, states
from connector.payments.models import Payment, PaymentReview, PaymentStatus, ReviewStatus


def open_review(
    session: Session,
    payment: Payment,
    *,
    account_id: str,
    spending_power_cents: int,
    now: datetime,
) -> PaymentReview:
    """Put a payment on hold for staff: it answers ``undefined`` until they decide."""
    states.await_decision(
        payment,
        Code.UNDER_REVIEW,
        "The purchase exceeds the available credit and awaits the store's review",
        now=now,
    )
    payment.account_id = account_id
    session.flush()  # the review references the payment
    review = PaymentReview(
        id=new_id(),
        payment_id=payment.payment_id,
        account_id=account_id,
        value_cents=payment.value_cents,
        spending_power_cents=spending_power_cents,
        status=ReviewStatus.WAITING,
        created_at=now,
        decided_at=None,
        decided_by=None,
        note=None,
    )
    session.add(review)
    return review


def list_reviews(
    session: Session, status: str | None = ReviewStatus.WAITING
) -> list[PaymentReview]:
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
        raise NotFound("review {review} not found", code=Code.REVIEW_NOT_FOUND, review=review_id)
    payment = session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
    review = session.get(PaymentReview, review_id, populate_existing=True)
    assert payment is not None and review is not None
    if review.status != ReviewStatus.WAITING or payment.status != PaymentStatus.UNDEFINED:
        raise Conflict(
            "review {review} is already {status}",
            code=Code.REVIEW_DECIDED,
            review=review_id,
            status=review.status,
        )
    return payment, review


def _decide(
    review: PaymentReview, status: str, done_by: str | None, note: str | None, now: datetime
) -> audit.Change:
    """Decide a waiting review; its entry for the trail, to record once the decision holds."""
    if note is not None and len(note) > 2000:
        raise ValidationError(
            "note too long", fields={"note": Reason("at most {limit} characters", limit=2000)}
        )
    before = review.status
    review.status, review.decided_at, review.decided_by, review.note = status, now, done_by, note
    return audit.Change(
        "review.approved" if status == ReviewStatus.APPROVED else "review.denied",
        "review",
        review.id,
        review.account_id,
        before={"status": before},
        after={"status": status, "value_cents": review.value_cents},
        note=note,
    )


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
    decided = _decide(review, ReviewStatus.APPROVED, done_by, note, now)
    reservation = reserve(
        session,
        review.account_id,
        review.value_cents,
        installments=payment.installments,
        installment_value_cents=payment.installment_value_cents,
        holder_email=payment.buyer_email,
        order_id=payment.order_id or payment.reference,
        over_limit=True,
        now=now,
    )
    states.approve(
        payment,
        reservation_id=reservation.id,
        message="Credit reserved after the store's review",
        now=now,
    )
    callbacks.schedule_callback(
        session,
        payment,
        final_status=PaymentStatus.APPROVED,
        code=payment.code,
        message=payment.message,
        due_at=now,
        now=now,
    )
    session.flush()
    audit.record(session, decided, at=now)
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
    decided = _decide(review, ReviewStatus.DENIED, done_by, note, now)
    states.deny(
        payment,
        Code.REVIEW_DENIED,
        "The store declined the purchase above the credit limit",
        now=now,
    )
    callbacks.schedule_callback(
        session,
        payment,
        final_status=PaymentStatus.DENIED,
        code=payment.code,
        message=payment.message,
        due_at=now,
        now=now,
    )
    session.flush()
    audit.record(session, decided, at=now)
    return review


def withdraw_review(session: Session, payment_id: str, now: datetime) -> None:
    """The gateway cancelled the payment: its review is closed without a decision."""
    review = session.scalar(select(PaymentReview).where(PaymentReview.payment_id == payment_id))
    if review is not None and review.status == ReviewStatus.WAITING:
        review.status, review.decided_at = ReviewStatus.WITHDRAWN, now
        review.decided_by = "gateway"


def list_decided_reviews(session: Session, limit: int = 20) -> list[PaymentReview]:
    """The latest decisions (approved, denied or withdrawn), newest first."""
    return list(
        session.scalars(
            select(PaymentReview)
            .where(PaymentReview.status != ReviewStatus.WAITING)
            .order_by(PaymentReview.decided_at.desc(), PaymentReview.id.desc())
            .limit(limit)
        )
    )
