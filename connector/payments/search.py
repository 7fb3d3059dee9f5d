"""The Payments page's search: every authorization, newest first, by the staff's filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, or_, select

from connector.credit.models import Reservation, ReservationStatus
from connector.payments.models import Payment

# What became of an approved purchase's credit, read from its reservation.
HELD, SETTLED, REFUNDED, CANCELLED = "held", "settled", "refunded", "cancelled"
PURCHASE_STATES = (HELD, SETTLED, REFUNDED, CANCELLED)


@dataclass(frozen=True)
class PaymentFilter:
    """The payments to list; every field left None matches all."""

    decision: str | None = None  # a PaymentStatus value: approved, denied, undefined
    state: str | None = None  # one of PURCHASE_STATES
    account_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    text: str | None = None  # a payment id, order id, reference, transaction id or e-mail


def _state_condition(state: str) -> ColumnElement[bool]:
    posted = Reservation.status == ReservationStatus.POSTED
    return {
        HELD: Reservation.status == ReservationStatus.PENDING,
        SETTLED: and_(posted, Reservation.refunded_cents < Reservation.settled_cents),
        REFUNDED: and_(posted, Reservation.refunded_cents > 0),
        CANCELLED: or_(
            Payment.cancelled_at.is_not(None),
            Reservation.status.in_((ReservationStatus.VOIDED, ReservationStatus.EXPIRED)),
        ),
    }[state]


def payment_select(f: PaymentFilter) -> Select[Payment]:
    """The payments matching ``f``, newest first (ties by id, so pages never overlap)."""
    query = select(Payment).outerjoin(Reservation, Reservation.id == Payment.reservation_id)
    if f.decision:
        query = query.where(Payment.status == f.decision)
    if f.state in PURCHASE_STATES:
        query = query.where(_state_condition(f.state))
    if f.account_id:
        query = query.where(Payment.account_id == f.account_id)
    if f.created_from is not None:
        query = query.where(Payment.created_at >= f.created_from)
    if f.created_to is not None:
        query = query.where(Payment.created_at <= f.created_to)
    if f.text:
        text = f.text.strip()
        query = query.where(
            or_(
                Payment.payment_id == text,
                Payment.order_id == text,
                Payment.reference == text,
                Payment.gateway_transaction_id == text,
                func.lower(Payment.buyer_email) == text.lower(),
            )
        )
    return query.order_by(Payment.created_at.desc(), Payment.payment_id.desc())
