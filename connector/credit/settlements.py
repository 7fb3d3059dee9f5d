"""Settling a purchase into invoices, changing what was settled, refunding it, and giving
back whatever a cancelled purchase still holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from connector.clock import utcnow
from connector.credit.invoicing import issue_invoices, reduce_invoices
from connector.credit.ledger import ensure_open, lock_reservation
from connector.credit.models import Invoice, Reservation, ReservationStatus
from connector.credit.reservations import (
    check_positive,
    ensure_credit,
    ensure_growth,
    release_reservation,
)
from connector.credit.settings import StoreSettings, load_store_settings
from connector.errors import Code, Conflict
from connector.money import cents_to_decimal


@dataclass
class Settlement:
    """What a settlement did: the value now settled and the invoices it issued."""

    reservation: Reservation
    settled_cents: int
    invoices: list[Invoice] = field(default_factory=list)
    returned_cents: int = 0  # given back when the settled value went down


def settle_reservation(
    session: Session,
    reservation_id: str,
    value_cents: int | None = None,
    *,
    account_id: str | None = None,
    settings: StoreSettings | None = None,
    done_by: str | None = None,
    now: datetime | None = None,
) -> Settlement:
    """Settle a purchase into invoices, or change the value of one already settled.

    Pending: settle ``value`` (all of it when None) into one invoice per installment and
    release the rest. A value above the reservation is allowed within the store's growth
    rate and the credit available. Posted: ``value`` is the purchase's new settled total;
    lower reduces its open invoices (last first), higher issues invoices for the
    difference, within the same growth rate and credit.
    """
    now = now or utcnow()
    settings = settings or load_store_settings(session)
    if value_cents is not None:
        check_positive(value_cents)
    account, reservation = lock_reservation(session, reservation_id, account_id)
    if reservation.status in (ReservationStatus.VOIDED, ReservationStatus.EXPIRED):
        raise Conflict(
            "transaction {reservation} was {status}; nothing to settle",
            code=Code.TRANSACTION_RELEASED,
            reservation=reservation.id,
            status=reservation.status,
        )
    if reservation.status == ReservationStatus.PENDING:
        amount = reservation.value_cents if value_cents is None else value_cents
        if amount > reservation.value_cents:
            ensure_growth(reservation, amount, settings)
            ensure_credit(account, amount - reservation.value_cents, settings)
        account.reserved_cents -= reservation.value_cents
        reservation.value_cents = 0
        reservation.status = ReservationStatus.POSTED
        reservation.settled_at = now
        reservation.updated_at = now
        reservation.settled_cents = amount
        invoices = issue_invoices(
            session, account, reservation, amount, settings=settings, now=now, done_by=done_by
        )
        session.flush()
        return Settlement(reservation, amount, invoices)
    # Posted: the order changed after it was invoiced.
    if value_cents is None or value_cents == reservation.settled_cents:
        return Settlement(reservation, reservation.settled_cents)
    delta = value_cents - reservation.settled_cents
    reservation.updated_at = now
    if delta > 0:
        ensure_open(account)
        ensure_growth(reservation, value_cents, settings)
        ensure_credit(account, delta, settings)
        reservation.settled_cents = value_cents
        invoices = issue_invoices(
            session, account, reservation, delta, settings=settings, now=now, done_by=done_by
        )
        session.flush()
        return Settlement(reservation, value_cents, invoices)
    if value_cents < reservation.refunded_cents:
        raise Conflict(
            "{refunded} was already refunded; the settled value cannot go below it",
            code=Code.BELOW_REFUNDED,
            refunded=cents_to_decimal(reservation.refunded_cents),
        )
    reservation.settled_cents = value_cents
    returned = reduce_invoices(
        session, account, reservation, -delta, now=now, reason="order_change", done_by=done_by
    )
    session.flush()
    return Settlement(reservation, value_cents, returned_cents=returned)


@dataclass
class Refund:
    reservation: Reservation
    refunded_cents: int
    returned_cents: int  # the part that no open invoice absorbed, credited to the account


def refundable_cents(reservation: Reservation) -> int:
    return reservation.settled_cents - reservation.refunded_cents


def refund_reservation(
    session: Session,
    reservation_id: str,
    value_cents: int | None = None,
    *,
    account_id: str | None = None,
    done_by: str | None = None,
    now: datetime | None = None,
) -> Refund:
    """Give back ``value`` (all that is left when None) of a settled purchase."""
    now = now or utcnow()
    if value_cents is not None:
        check_positive(value_cents)
    account, reservation = lock_reservation(session, reservation_id, account_id)
    if reservation.status != ReservationStatus.POSTED:
        raise Conflict(
            "transaction {reservation} is {status}: only a settled purchase can be refunded",
            code=Code.TRANSACTION_NOT_SETTLED,
            reservation=reservation.id,
            status=reservation.status,
        )
    left = refundable_cents(reservation)
    amount = left if value_cents is None else value_cents
    if amount > left or amount == 0:
        raise Conflict(
            "refund of {amount} exceeds the {left} settled and not yet refunded",
            code=Code.REFUND_EXCEEDS_SETTLED,
            amount=cents_to_decimal(amount),
            left=cents_to_decimal(left),
        )
    reservation.refunded_cents += amount
    reservation.updated_at = now
    returned = reduce_invoices(
        session, account, reservation, amount, now=now, reason="refund", done_by=done_by
    )
    session.flush()
    return Refund(reservation, amount, returned)


def give_back(
    session: Session, reservation_id: str, *, done_by: str | None = None, now: datetime
) -> int:
    """Leave nothing held for a cancelled purchase: release a pending reservation, or
    refund what is left of a settled one. Returns the cents given back."""
    _account, reservation = lock_reservation(session, reservation_id)  # fresh, under the lock
    if reservation.status == ReservationStatus.PENDING:
        held = reservation.value_cents
        release_reservation(session, reservation_id, now=now)
        return held
    if reservation.status == ReservationStatus.POSTED:
        left = refundable_cents(reservation)
        if left:
            refund_reservation(session, reservation_id, left, done_by=done_by, now=now)
        return left
    return 0
