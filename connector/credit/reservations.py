"""Reservations: reserve, change, release, settle into invoices, refund.

A reservation goes ``pending -> posted | voided | expired``. While pending, its
``value_cents`` is counted in the account's ``reserved_cents``; settling posts it as
invoices, releasing voids it. Every verb locks the account first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit import rules
from connector.credit.invoices import issue_invoices, reduce_invoices
from connector.credit.ledger import ensure_open, lock_account, lock_reservation
from connector.credit.models import (
    EXPIRED,
    PENDING,
    POSTED,
    VOIDED,
    Account,
    Invoice,
    Reservation,
)
from connector.credit.settings import StoreSettings, load_store_settings
from connector.errors import (
    GROWTH_LIMIT_EXCEEDED,
    INSTALLMENTS_NOT_ALLOWED,
    INSUFFICIENT_CREDIT,
    REFUND_EXCEEDS_SETTLED,
    Conflict,
    CreditDenied,
    ValidationError,
)
from connector.ids import new_id, utcnow
from connector.money import cents_to_decimal

_TRANSACTION_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _check_positive(value_cents: int, field_name: str = "value") -> None:
    if value_cents <= 0:
        raise ValidationError("the value must be positive", fields={field_name: "must be > 0"})


def _check_transaction_id(reservation_id: str) -> None:
    if not _TRANSACTION_ID.match(reservation_id):
        raise ValidationError(
            "invalid transaction id", fields={"transactionId": "1-64 of A-Z a-z 0-9 _ . -"}
        )


def _ensure_credit(account: Account, extra_cents: int, settings: StoreSettings) -> None:
    """Refuse taking ``extra`` more credit from a locked account when it does not fit."""
    if not rules.can_reserve(
        extra_cents,
        limit_cents=account.credit_limit_cents,
        balance_cents=account.balance_cents,
        reserved_cents=account.reserved_cents,
        tolerance_bps=account.tolerance_bps,
        tolerance_enabled=settings.tolerance_enabled,
    ):
        power = rules.spending_power(
            account.credit_limit_cents,
            account.balance_cents,
            account.reserved_cents,
            account.tolerance_bps,
            settings.tolerance_enabled,
        )
        raise CreditDenied(
            f"insufficient credit: {cents_to_decimal(max(power, 0))} available",
            code=INSUFFICIENT_CREDIT,
        )


def plan_for(settings: StoreSettings, installments: int) -> tuple[int, ...]:
    """The payment-term plan for a number of installments, or a denial."""
    plan = settings.plan_for(installments)
    if plan is None:
        counts = ", ".join(str(len(p)) for p in settings.payment_terms)
        raise CreditDenied(
            f"{installments or 1} installment(s) not offered; the store offers {counts}",
            code=INSTALLMENTS_NOT_ALLOWED,
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
    settings: StoreSettings,
    now: datetime,
) -> dict[str, Any]:
    """The columns of a new pending reservation (``reserve`` and the express path)."""
    return {
        "id": reservation_id or new_id(),
        "account_id": account_id,
        "holder_email": holder_email,
        "order_id": order_id,
        "status": PENDING,
        "value_cents": value_cents,
        "authorized_cents": value_cents,
        "settled_cents": 0,
        "refunded_cents": 0,
        "installments": len(plan),
        "term_days": list(plan),
        "invoice_count": 0,
        "auto_settle_at": rules.add_business_days(
            now, settings.auto_settle_business_days, settings.is_holiday()
        )
        if auto_settle
        else None,
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
    _check_positive(value_cents)
    if expires_at is not None and expires_at <= now:
        raise ValidationError(
            "the expiration date has passed", fields={"expirationDate": "must be in the future"}
        )
    plan = plan_for(settings, installments)
    account = lock_account(session, account_id)
    ensure_open(account)
    if not over_limit:
        _ensure_credit(account, value_cents, settings)
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
            f"transaction {reservation_id} belongs to another account", code="transaction_exists"
        )
    existing = session.get(Reservation, reservation_id)
    assert existing is not None
    if len(plan_for(settings, installments)) != existing.installments:
        raise Conflict(
            f"transaction {reservation_id} has {existing.installments} installment(s); "
            "the number of installments cannot change",
            code="installments_mismatch",
        )
    changed = change_reservation(
        session, reservation_id, value_cents, account_id=account_id, settings=settings, now=now
    )
    return changed, False


def _ensure_pending(reservation: Reservation) -> None:
    if reservation.status != PENDING:
        raise Conflict(
            f"transaction {reservation.id} is {reservation.status}, not pending",
            code="transaction_not_pending",
        )


def _ensure_growth(reservation: Reservation, new_value_cents: int, settings: StoreSettings) -> None:
    ceiling = rules.max_grown_value(
        reservation.authorized_cents, settings.max_preauthorization_growth_bps
    )
    if new_value_cents > ceiling:
        raise CreditDenied(
            f"the value may grow to at most {cents_to_decimal(ceiling)} "
            f"(the store's maxPreAuthorizationGrowthRate)",
            code=GROWTH_LIMIT_EXCEEDED,
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
    _check_positive(value_cents)
    account, reservation = lock_reservation(session, reservation_id, account_id)
    _ensure_pending(reservation)
    delta = value_cents - reservation.value_cents
    if delta > 0:
        ensure_open(account)
        _ensure_growth(reservation, value_cents, settings)
        _ensure_credit(account, delta, settings)
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
    if reservation.status in (VOIDED, EXPIRED):
        return reservation
    if reservation.status == POSTED:
        raise Conflict(
            f"transaction {reservation.id} is settled; refund it instead",
            code="transaction_settled",
        )
    _void(account, reservation, EXPIRED if expired else VOIDED, now)
    session.flush()
    return reservation


def void_pending(session: Session, account: Account, *, now: datetime) -> int:
    """Void every pending reservation of a locked account (when it is closed by force)."""
    pending = session.scalars(
        select(Reservation).where(
            Reservation.account_id == account.id, Reservation.status == PENDING
        )
    ).all()
    for reservation in pending:
        _void(account, reservation, VOIDED, now)
    return len(pending)


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
        _check_positive(value_cents)
    account, reservation = lock_reservation(session, reservation_id, account_id)
    if reservation.status in (VOIDED, EXPIRED):
        raise Conflict(
            f"transaction {reservation.id} was {reservation.status}; nothing to settle",
            code="transaction_released",
        )
    if reservation.status == PENDING:
        amount = reservation.value_cents if value_cents is None else value_cents
        if amount > reservation.value_cents:
            _ensure_growth(reservation, amount, settings)
            _ensure_credit(account, amount - reservation.value_cents, settings)
        account.reserved_cents -= reservation.value_cents
        reservation.value_cents = 0
        reservation.status = POSTED
        reservation.settled_at = now
        reservation.updated_at = now
        reservation.settled_cents = amount
        invoices = issue_invoices(session, account, reservation, amount, now=now, done_by=done_by)
        session.flush()
        return Settlement(reservation, amount, invoices)
    # Posted: the order changed after it was invoiced.
    if value_cents is None or value_cents == reservation.settled_cents:
        return Settlement(reservation, reservation.settled_cents)
    delta = value_cents - reservation.settled_cents
    reservation.updated_at = now
    if delta > 0:
        ensure_open(account)
        _ensure_growth(reservation, value_cents, settings)
        _ensure_credit(account, delta, settings)
        reservation.settled_cents = value_cents
        invoices = issue_invoices(session, account, reservation, delta, now=now, done_by=done_by)
        session.flush()
        return Settlement(reservation, value_cents, invoices)
    if value_cents < reservation.refunded_cents:
        raise Conflict(
            f"{cents_to_decimal(reservation.refunded_cents)} was already refunded; "
            "the settled value cannot go below it",
            code="below_refunded",
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
        _check_positive(value_cents)
    account, reservation = lock_reservation(session, reservation_id, account_id)
    if reservation.status != POSTED:
        raise Conflict(
            f"transaction {reservation.id} is {reservation.status}: only a settled purchase "
            "can be refunded",
            code="transaction_not_settled",
        )
    left = refundable_cents(reservation)
    amount = left if value_cents is None else value_cents
    if amount > left or amount == 0:
        raise Conflict(
            f"refund of {cents_to_decimal(amount)} exceeds the {cents_to_decimal(left)} "
            "settled and not yet refunded",
            code=REFUND_EXCEEDS_SETTLED,
        )
    reservation.refunded_cents += amount
    reservation.updated_at = now
    returned = reduce_invoices(
        session, account, reservation, amount, now=now, reason="refund", done_by=done_by
    )
    session.flush()
    return Refund(reservation, amount, returned)
