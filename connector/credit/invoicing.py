"""Invoicing a purchase: one invoice per installment of its plan, and giving amounts back
on its open invoices when the order shrinks or is refunded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.credit import rules
from connector.credit.ledger import post_entry
from connector.credit.models import (
    Account,
    Invoice,
    InvoiceStatus,
    Origin,
    Reservation,
    StatementEntry,
)
from connector.credit.purchase_numbers import next_purchase_number
from connector.credit.settings import StoreSettings


class Purchase(Protocol):
    """What invoicing reads of a reservation: the ORM object, or the auto-settle job's
    rows (``credit.batch_settlement``)."""

    @property
    def id(self) -> str: ...
    @property
    def order_id(self) -> str | None: ...
    @property
    def authorized_cents(self) -> int: ...
    @property
    def installment_value_cents(self) -> int | None: ...
    @property
    def term_days(self) -> list[int]: ...
    @property
    def invoice_count(self) -> int: ...
    @property
    def purchase_number(self) -> int | None: ...


def new_invoice_rows(
    reservation: Purchase,
    account_id: str,
    amount_cents: int,
    *,
    settings: StoreSettings,
    now: datetime,
    due_dates: Sequence[date] | None = None,
) -> list[dict[str, Any]]:
    """The invoices that turn ``amount`` of a purchase into one invoice per installment of
    its plan, due on the store's dates (``StoreSettings.due_dates``), as rows (the
    attributes of ``Invoice``). The purchase must have its number already. ``due_dates``
    are those dates when the caller has them already (a batch settled at one moment
    computes each plan's once).

    The parts sum exactly to the amount: the installments agreed at checkout when the whole
    purchase is settled as authorized, else equal parts. When the amount has fewer cents
    than the plan has installments, only the non-zero parts become invoices.
    """
    assert reservation.purchase_number is not None
    count = len(reservation.term_days)
    agreed = None
    if reservation.invoice_count == 0 and amount_cents == reservation.authorized_cents:
        agreed = rules.agreed_installments(amount_cents, count, reservation.installment_value_cents)
    parts = [p for p in agreed or rules.split_installments(amount_cents, count) if p]
    dates = settings.due_dates(now, reservation.term_days) if due_dates is None else due_dates
    rows = []
    for position, (value, due) in enumerate(zip(parts, dates, strict=False), start=1):
        number = reservation.invoice_count + position
        rows.append(
            {
                "id": rules.invoice_id(reservation.id, number),
                "friendly_id": rules.friendly_id(reservation.purchase_number, number),
                "account_id": account_id,
                "reservation_id": reservation.id,
                "order_id": reservation.order_id,
                "installment": position,
                "number_of_installments": len(parts),
                "value_cents": value,
                "original_value_cents": value,
                "status": InvoiceStatus.OPENED,
                "created_at": now,
                "updated_at": now,
                "original_due_date": due,
                "due_date": due,
                "resolved_at": None,
                "payment_link": None,
                "observation": None,
                "postponement_count": 0,
                "postponed_days": 0,
                "paid_on": None,
                "payment_method": None,
                "payment_reference": None,
                "received_cents": None,
                "late_fee_cents": 0,
                "interest_cents": 0,
            }
        )
    return rows


def invoice_entry_details(reservation: Purchase, invoice: Mapping[str, Any]) -> dict[str, Any]:
    """What the ``Invoice`` entry of a new invoice tells about it."""
    return {
        "transactionId": reservation.id,
        "orderId": reservation.order_id,
        "installment": invoice["installment"],
        "numberOfInstallments": invoice["number_of_installments"],
    }


def refund_entry_details(
    reservation: Reservation, installment: int | None, reason: str
) -> dict[str, Any]:
    """What a ``Refund`` entry tells: on an invoice (its installment), or beyond them."""
    details: dict[str, Any] = {"transactionId": reservation.id, "orderId": reservation.order_id}
    if installment is None:
        return {**details, "reason": reason, "paidInvoicesReturned": True}
    return {**details, "installment": installment, "reason": reason}


def issue_invoices(
    session: Session,
    account: Account,
    reservation: Reservation,
    amount_cents: int,
    *,
    settings: StoreSettings,
    now: datetime,
    done_by: str | None = None,
) -> list[Invoice]:
    """Invoice ``amount`` of a purchase (``new_invoice_rows``) and post an ``Invoice``
    entry for each invoice."""
    if reservation.purchase_number is None:
        reservation.purchase_number = next_purchase_number(session)
    rows = new_invoice_rows(reservation, account.id, amount_cents, settings=settings, now=now)
    invoices = [Invoice(**row) for row in rows]
    session.add_all(invoices)
    # No flush needed: the unit of work inserts invoices before the entries referencing
    # them (it orders tables by their foreign keys).
    for row in rows:
        post_entry(
            session,
            account,
            Origin.INVOICE,
            -row["value_cents"],
            now=now,
            done_by=done_by,
            invoice_id=row["id"],
            reservation_id=reservation.id,
            details=invoice_entry_details(reservation, row),
        )
    reservation.invoice_count += len(rows)
    return invoices


def _returnable(session: Session, reservation: Reservation) -> int:
    """What was paid on a purchase's invoices and not yet returned to the account."""
    paid = session.scalar(
        select(func.coalesce(func.sum(Invoice.value_cents), 0)).where(
            Invoice.reservation_id == reservation.id, Invoice.status == InvoiceStatus.PAID
        )
    )
    returned = session.scalar(
        select(func.coalesce(func.sum(StatementEntry.value_cents), 0)).where(
            StatementEntry.reservation_id == reservation.id,
            StatementEntry.origin == Origin.REFUND,
            StatementEntry.invoice_id.is_(None),
        )
    )
    return max(0, int(paid or 0) - int(returned or 0))


def reduce_invoices(
    session: Session,
    account: Account,
    reservation: Reservation,
    amount_cents: int,
    *,
    now: datetime,
    reason: str,
    done_by: str | None = None,
) -> int:
    """Give ``amount`` back on a purchase: reduce its open invoices, last first.

    Each reduction is a ``Refund`` entry on its invoice; an invoice reduced to zero is
    cancelled. What no open invoice absorbs is returned to the account as one ``Refund``
    entry without an invoice, up to what was paid on the purchase and not yet returned:
    the value of a cancelled invoice came back when it was cancelled, and is not given
    back again. Returns what was returned beyond the open invoices.
    """
    open_invoices = sorted(
        session.scalars(
            select(Invoice).where(
                Invoice.reservation_id == reservation.id, Invoice.status == InvoiceStatus.OPENED
            )
        ),
        key=lambda invoice: rules.invoice_number(invoice.id),
    )
    by_id = {invoice.id: invoice for invoice in open_invoices}
    reductions, excess = rules.reduce_last_first(
        [(invoice.id, invoice.value_cents) for invoice in open_invoices], amount_cents
    )
    for reduction in reductions:
        invoice = by_id[reduction.invoice_key]
        invoice.value_cents -= reduction.cents
        invoice.updated_at = now
        if reduction.closes:
            invoice.status = InvoiceStatus.CANCELLED
            invoice.resolved_at = now
        post_entry(
            session,
            account,
            Origin.REFUND,
            reduction.cents,
            now=now,
            done_by=done_by,
            invoice_id=invoice.id,
            reservation_id=reservation.id,
            details=refund_entry_details(reservation, invoice.installment, reason),
        )
    if excess:
        excess = min(excess, _returnable(session, reservation))
    if excess:
        post_entry(
            session,
            account,
            Origin.REFUND,
            excess,
            now=now,
            done_by=done_by,
            reservation_id=reservation.id,
            details=refund_entry_details(reservation, None, reason),
        )
    return excess
