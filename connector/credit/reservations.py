"""Reservations: reserve, change, release.

A reservation goes ``pending -> posted | voided | expired``. While pending, its
``value_cents`` is counted in the account's ``reserved_cents``; settling posts it as
invoices (``settlements``), releasing voids it. Every verb locks the account first.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.clock import utcnow
from connector.credit import rules
from connector.credit.blocking import ensure_not_blocked
from connector.credit.ledger import ensure_open, lock_account, lock_reservation
from connector.credit.models import Account, Reservation, ReservationStatus
from connector.credit.settings import StoreSettings, load_store_settings
from connector.errors import Code, Conflict, CreditDenied, ValidationError
from connector.ids import new_id
from connector.money import cents_to_decimal

_TRANSACTION_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_positive(value_cents: int, field_name: str = "value") -> None:
    if value_cents <= 0:
        raise ValidationError("the value must be positive", fields={field_name: "must be > 0"})


def _check_transaction_id(reservation_id: str) -> None:
    if not _TRANSACTION_ID.match(reservation_id):
        raise ValidationError(
            "invalid transaction id", fields={"transactionId": "1-64 of A-Z a-z 0-9 _ . -"}
        )


def ensure_credit(account: Account, extra_cents: int, settings: StoreSettings) -> None:
    """Refuse taking ``extra`` more credit from a locked account when it does not fit."""
    refuse_beyond_credit(
        extra_cents,
        limit_cents=account.credit_limit_cents,
        balance_cents=account.balance_cents,
        reserved_cents=account.reserved_cents,
        tolerance_bps=account.tolerance_bps,
        tolerance_enabled=settings.tolerance_enabled,
    )


def refuse_beyond_credit(
    extra_cents: int,
    *,
    limit_cents: int,
    balance_cents: int,
    reserved_cents: int,
    tolerance_bps: int,
    tolerance_enabled: bool,
) -> None:
    """The insufficient-credit denial, given an account's figures (``ensure_credit``'s
    rule; the express path words its denials with it)."""
    figures = (limit_cents, balance_cents, reserved_cents, tolerance_bps, tolerance_enabled)
    if not rules.can_reserve(
        extra_cents,
        limit_cents=limit_cents,
        balance_cents=balance_cents,
        reserved_cents=reserved_cents,
        tolerance_bps=tolerance_bps,
        tolerance_enabled=tolerance_enabled,
    ):
        power = rules.spending_power(*figures)
        raise CreditDenied(
            "insufficient credit: {available} available",
            code=Code.INSUFFICIENT_CREDIT,
            available=cents_to_decimal(max(power, 0)),
        )


def plan_for(settings: StoreSettings, installments: int) -> tuple[int, ...]:
    """The payment-term plan for a number of installments, or a denial."""
    plan = settings.plan_for(installments)
    if plan is None:
        counts = ", ".join(str(len(p)) for p in settings.payment_terms)
        raise CreditDenied(
            "{installments} installment(s) not offered; the store offers {counts}",
            code=Code.INSTALLMENTS_NOT_ALLOWED,
            installments=installments or 1,
            counts=counts,
        )
    return plan


def new_reservation(
    account_id: str,
    value_cents: int,
    plan: tuple[int, ...],
    *,
    holder_email: str | None,
    order_id: str | None,
    reservation_id: str | None = None,
    expires_at: datetime | None = None,
    auto_settle: bool = True,
    installment_value_cents: int | None = None,
    settings: StoreSettings,
    now: datetime,
) -> dict[str, Any]:
    """The columns of a new pending reservation (``reserve`` and the express path).

    A purchase without an order (a pre-authorization of the API) takes its own id as its
    order id: the id the merchant refers to it by, which its invoices answer as ``orderId``.
    """
    reservation_id = reservation_id or new_id()
    return {
        "id": reservation_id,
        "account_id": account_id,
        "holder_email": holder_email,
        "order_id": order_id or reservation_id,
        "status": ReservationStatus.PENDING,
        "value_cents": value_cents,
        "authorized_cents": value_cents,
        "settled_cents": 0,
        "refunded_cents": 0,
        "installments": len(plan),
        "installment_value_cents": installment_value_cents,
        "term_days": list(plan),
        "invoice_count": 0,
        "purchase_number": None,  # taken when it is first invoiced
        "auto_settle_at": settings.auto_settle_at(now) if auto_settle else None,
        "expires_at": expires_at,
        "created_at": now,
        "updated_at": now,
        "settled_at": None,
        "released_at": None,
    }


def reserve(
    session: Session,
    account_id: str,
    value_cents: int,
    *,
    installments: int = 1,
    holder_email: str | None = None,
    order_id: str | None = None,
    reservation_id: str | None = None,
    expires_at: datetime | None = None,
    auto_settle: bool = True,
    settings: StoreSettings | None = None,
    over_limit: bool = False,
    installment_value_cents: int | None = None,
    now: datetime | None = None,
) -> Reservation:
    """Hold ``value`` of an account's credit for a purchase, or raise a denial.

    With ``auto_settle`` off, the hold is never settled by the scheduler: it lasts until
    it is settled, released, or reaches ``expires_at``. ``over_limit`` skips the credit
    check: the store's staff approved this purchase above the available credit
    (over-limit review). Every other rule still applies.
    """
    now = now or utcnow()
    settings = settings or load_store_settings(session)
    check_positive(value_cents)
    if expires_at is not None and expires_at <= now:
        raise ValidationError(
            "the expiration date has passed", fields={"expirationDate": "must be in the future"}
        )
    plan = plan_for(settings, installments)
    account = lock_account(session, account_id)
    ensure_open(account)
    ensure_not_blocked(session, account.id, settings, now)
    if not over_limit:
        ensure_credit(account, value_cents, settings)
    reservation = Reservation(
        **new_reservation(
            account.id,
            value_cents,
            plan,
            holder_email=holder_email,
            order_id=order_id,
            reservation_id=reservation_id,
            expires_at=expires_at,
            auto_settle=auto_settle,
            installment_value_cents=installment_value_cents,
            settings=settings,
            now=now,
        )
    )
    session.add(reservation)
    account.reserved_cents += value_cents
    account.updated_at = now
    session.flush()
    return reservation


def put_reservation(
    session: Session,
    account_id: str,
    reservation_id: str,
    value_cents: int,
    *,
    installments: int = 1,
    expires_at: datetime | None = None,
    auto_settle: bool = True,
    settings: StoreSettings | None = None,
    now: datetime | None = None,
) -> tuple[Reservation, bool]:
    """Reserve under a caller-chosen id, or change the pending reservation with that id.

    Returns the reservation and whether it was created. A repeated call with the same
    value changes nothing, so a client may retry it. ``expires_at`` and ``auto_settle``
    apply only when the reservation is created.
    """
    now = now or utcnow()
    settings = settings or load_store_settings(session)
    _check_transaction_id(reservation_id)
    lock_account(session, account_id)  # serializes two creations under the same id
    owner = session.scalar(select(Reservation.account_id).where(Reservation.id == reservation_id))
    if owner is None:
        created = reserve(
            session,
            account_id,
            value_cents,
            installments=installments,
            reservation_id=reservation_id,
            expires_at=expires_at,
            auto_settle=auto_settle,
            settings=settings,
            now=now,
        )
        return created, True
    if owner != account_id:
        raise Conflict(
            "transaction {reservation} belongs to another account",
            code=Code.TRANSACTION_EXISTS,
            reservation=reservation_id,
        )
    existing = session.get(Reservation, reservation_id)
    assert existing is not None
    if len(plan_for(settings, installments)) != existing.installments:
        raise Conflict(
            "transaction {reservation} has {installments} installment(s); "
            "the number of installments cannot change",
            code=Code.INSTALLMENTS_MISMATCH,
            reservation=reservation_id,
            installments=existing.installments,
        )
    changed = change_reservation(
        session, reservation_id, value_cents, account_id=account_id, settings=settings, now=now
    )
    return changed, False


def _ensure_pending(reservation: Reservation) -> None:
    if reservation.status != ReservationStatus.PENDING:
        raise Conflict(
            "transaction {reservation} is {status}, not pending",
            code=Code.TRANSACTION_NOT_PENDING,
            reservation=reservation.id,
            status=reservation.status,
        )


def ensure_growth(reservation: Reservation, new_value_cents: int, settings: StoreSettings) -> None:
    ceiling = rules.max_grown_value(
        reservation.authorized_cents, settings.max_preauthorization_growth_bps
    )
    if new_value_cents > ceiling:
        raise CreditDenied(
            "the value may grow to at most {ceiling} (the store's maxPreAuthorizationGrowthRate)",
            code=Code.GROWTH_LIMIT_EXCEEDED,
            ceiling=cents_to_decimal(ceiling),
        )


def change_reservation(
    session: Session,
    reservation_id: str,
    value_cents: int,
    *,
    account_id: str | None = None,
    settings: StoreSettings | None = None,
    now: datetime | None = None,
) -> Reservation:
    """Make a pending reservation follow its order's new value."""
    now = now or utcnow()
    settings = settings or load_store_settings(session)
    check_positive(value_cents)
    account, reservation = lock_reservation(session, reservation_id, account_id)
    _ensure_pending(reservation)
    delta = value_cents - reservation.value_cents
    if delta > 0:
        ensure_open(account)
        ensure_growth(reservation, value_cents, settings)
        ensure_credit(account, delta, settings)
    account.reserved_cents += delta
    account.updated_at = now
    reservation.value_cents = value_cents
    reservation.updated_at = now
    session.flush()
    return reservation


def _void(account: Account, reservation: Reservation, status: str, now: datetime) -> None:
    account.reserved_cents -= reservation.value_cents
    account.updated_at = now
    reservation.value_cents = 0
    reservation.status = status
    reservation.released_at = now
    reservation.updated_at = now


def release_reservation(
    session: Session,
    reservation_id: str,
    *,
    expired: bool = False,
    account_id: str | None = None,
    now: datetime | None = None,
) -> Reservation:
    """Give a pending reservation's credit back. Releasing twice is a no-op."""
    now = now or utcnow()
    account, reservation = lock_reservation(session, reservation_id, account_id)
    if reservation.status in (ReservationStatus.VOIDED, ReservationStatus.EXPIRED):
        return reservation
    if reservation.status == ReservationStatus.POSTED:
        raise Conflict(
            "transaction {reservation} is settled; refund it instead",
            code=Code.TRANSACTION_SETTLED,
            reservation=reservation.id,
        )
    status = ReservationStatus.EXPIRED if expired else ReservationStatus.VOIDED
    _void(account, reservation, status, now)
    session.flush()
    return reservation


def void_pending(session: Session, account: Account, *, now: datetime) -> int:
    """Void every pending reservation of a locked account (when it is closed by force)."""
    pending = session.scalars(
        select(Reservation).where(
            Reservation.account_id == account.id, Reservation.status == ReservationStatus.PENDING
        )
    ).all()
    for reservation in pending:
        _void(account, reservation, ReservationStatus.VOIDED, now)
    return len(pending)


def latest_reservations(session: Session, account_id: str, limit: int = 10) -> list[Reservation]:
    """An account's latest purchases (held, settled, released), newest first."""
    return list(
        session.scalars(
            select(Reservation)
            .where(Reservation.account_id == account_id)
            .order_by(Reservation.created_at.desc(), Reservation.id.desc())
            .limit(limit)
        )
    )
