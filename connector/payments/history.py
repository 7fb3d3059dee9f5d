"""One payment as the admin shows it: its records, its timeline, what staff may still do.

The timeline is read from the records that exist (the payment, its review, its
reservation and the ledger's refund entries); nothing is stored for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit.models import Account, Origin, Reservation, ReservationStatus, StatementEntry
from connector.credit.settlements import refundable_cents
from connector.errors import Code, NotFound
from connector.payments.models import Payment, PaymentReview, PaymentStatus, ReviewStatus


class Step(StrEnum):
    """A moment of a payment's life."""

    AUTHORIZED = "authorized"
    DENIED = "denied"
    WAITING = "waiting"  # undefined: a review or a test card's callback decides
    REVIEW_APPROVED = "review_approved"
    REVIEW_DENIED = "review_denied"
    SETTLED = "settled"
    ORDER_CHANGED = "order_changed"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Event:
    step: Step
    at: datetime
    value_cents: int | None = None
    by: str | None = None


@dataclass
class PaymentRecord:
    """A payment with its account, reservation, review and timeline."""

    payment: Payment
    account: Account | None
    reservation: Reservation | None
    review: PaymentReview | None
    timeline: list[Event] = field(default_factory=list)

    @property
    def refundable_cents(self) -> int:
        """What a refund may still give back: only a settled purchase has any."""
        r = self.reservation
        return refundable_cents(r) if r and r.status == ReservationStatus.POSTED else 0

    @property
    def cancellable(self) -> bool:
        """A pre-authorization still holding credit can be cancelled (released)."""
        return self.reservation is not None and self.reservation.status == ReservationStatus.PENDING


def _money_events(session: Session, reservation: Reservation) -> list[Event]:
    """Refunds and order changes: the reservation's Refund entries, one event per moment."""
    entries = session.scalars(
        select(StatementEntry)
        .where(
            StatementEntry.reservation_id == reservation.id,
            StatementEntry.account_id == reservation.account_id,
            StatementEntry.origin == Origin.REFUND,
        )
        .order_by(StatementEntry.created_at, StatementEntry.id)
    )
    grouped: dict[tuple[datetime, Step, str | None], int] = {}
    for entry in entries:
        changed = entry.details.get("reason") == "order_change"
        step = Step.ORDER_CHANGED if changed else Step.REFUNDED
        key = (entry.created_at, step, entry.done_by)
        grouped[key] = grouped.get(key, 0) + entry.value_cents
    return [Event(step, at, cents, by) for (at, step, by), cents in grouped.items()]


def _timeline(
    session: Session,
    payment: Payment,
    reservation: Reservation | None,
    review: PaymentReview | None,
) -> list[Event]:
    events: list[Event] = []
    if review is not None:
        events.append(Event(Step.WAITING, payment.created_at, payment.value_cents))
        if review.decided_at is not None and review.status == ReviewStatus.APPROVED:
            events.append(Event(Step.REVIEW_APPROVED, review.decided_at, None, review.decided_by))
        elif review.decided_at is not None and review.status == ReviewStatus.DENIED:
            events.append(Event(Step.REVIEW_DENIED, review.decided_at, None, review.decided_by))
    elif payment.status == PaymentStatus.APPROVED:
        events.append(Event(Step.AUTHORIZED, payment.created_at, payment.value_cents))
    elif payment.status == PaymentStatus.DENIED:
        events.append(Event(Step.DENIED, payment.created_at, payment.value_cents))
    else:
        events.append(Event(Step.WAITING, payment.created_at, payment.value_cents))
    if reservation is not None:
        if reservation.settled_at is not None:
            events.append(Event(Step.SETTLED, reservation.settled_at, reservation.settled_cents))
        events.extend(_money_events(session, reservation))
    if payment.cancelled_at is not None:
        events.append(Event(Step.CANCELLED, payment.cancelled_at, None, "gateway"))
    elif reservation is not None and reservation.released_at is not None:
        expired = reservation.status == ReservationStatus.EXPIRED
        events.append(Event(Step.EXPIRED if expired else Step.CANCELLED, reservation.released_at))
    return sorted(events, key=lambda e: e.at)  # stable: same moment keeps the order above


def payment_record(session: Session, payment_id: str) -> PaymentRecord:
    """A payment and everything the admin shows with it, or a 404."""
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(
            "payment {payment} not found", code=Code.PAYMENT_NOT_FOUND, payment=payment_id
        )
    account = session.get(Account, payment.account_id) if payment.account_id else None
    reservation = (
        session.get(Reservation, payment.reservation_id) if payment.reservation_id else None
    )
    review = session.scalar(select(PaymentReview).where(PaymentReview.payment_id == payment_id))
    record = PaymentRecord(payment, account, reservation, review)
    record.timeline = _timeline(session, payment, reservation, review)
    return record


def reviews_of(session: Session, payment_ids: set[str]) -> dict[str, PaymentReview]:
    """The reviews of these payments, by payment id (a payment has at most one)."""
    if not payment_ids:
        return {}
    rows = session.scalars(select(PaymentReview).where(PaymentReview.payment_id.in_(payment_ids)))
    return {review.payment_id: review for review in rows}


def payments_of(session: Session, reservation_ids: set[str]) -> dict[str, Payment]:
    """The gateway's payments behind these reservations, by reservation id."""
    if not reservation_ids:
        return {}
    rows = session.scalars(select(Payment).where(Payment.reservation_id.in_(reservation_ids)))
    return {p.reservation_id: p for p in rows if p.reservation_id is not None}
