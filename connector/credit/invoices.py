"""Invoices: issued by settlements, reduced by refunds, paid, cancelled or postponed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit import rules
from connector.credit.ledger import in_slices, lock_accounts, lock_invoice, post_entry
from connector.credit.models import (
    INVOICE_CANCELLED,
    INVOICE_OPENED,
    INVOICE_PAID,
    ORIGIN_CANCELLATION,
    ORIGIN_INVOICE,
    ORIGIN_PAYMENT,
    ORIGIN_REFUND,
    Account,
    Invoice,
    Reservation,
)
from connector.credit.settings import StoreSettings, load_store_settings
from connector.errors import Conflict, ConnectorError, NotFound, ValidationError, only
from connector.ids import utcnow

INVOICE_STATUSES = {"opened": INVOICE_OPENED, "open": INVOICE_OPENED, "paid": INVOICE_PAID}
INVOICE_STATUSES["cancelled"] = INVOICE_CANCELLED
INVOICE_STATUSES["canceled"] = INVOICE_CANCELLED


def issue_invoices(
    session: Session,
    account: Account,
    reservation: Reservation,
    amount_cents: int,
    *,
    now: datetime,
    done_by: str | None = None,
) -> list[Invoice]:
    """Turn ``amount`` of a purchase into one invoice per installment of its plan.

    The parts sum exactly to the amount. When the amount has fewer cents than the plan
    has installments, only the non-zero parts become invoices.
    """
    parts = [p for p in rules.split_installments(amount_cents, len(reservation.term_days)) if p]
    dates = rules.due_dates(now, reservation.term_days)
    invoices = []
    for position, (value, due) in enumerate(zip(parts, dates, strict=False), start=1):
        number = reservation.invoice_count + position
        invoice = Invoice(
            id=rules.invoice_id(reservation.id, number),
            friendly_id=rules.friendly_id(position),
            account_id=account.id,
            reservation_id=reservation.id,
            order_id=reservation.order_id,
            installment=position,
            number_of_installments=len(parts),
            value_cents=value,
            original_value_cents=value,
            status=INVOICE_OPENED,
            created_at=now,
            updated_at=now,
            original_due_date=due,
            due_date=due,
            resolved_at=None,
            payment_link=None,
            observation=None,
            postponement_count=0,
            postponed_days=0,
        )
        session.add(invoice)
        invoices.append(invoice)
    # No flush needed: the unit of work inserts invoices before the entries referencing
    # them (it orders tables by their foreign keys).
    for invoice in invoices:
        post_entry(
            session,
            account,
            ORIGIN_INVOICE,
            -invoice.value_cents,
            now=now,
            done_by=done_by,
            invoice_id=invoice.id,
            transaction_id=reservation.id,
            details={
                "transactionId": reservation.id,
                "orderId": reservation.order_id,
                "installment": invoice.installment,
                "numberOfInstallments": invoice.number_of_installments,
            },
        )
    reservation.invoice_count += len(parts)
    return invoices


def _running_number(invoice: Invoice) -> int:
    return int(invoice.id.rsplit("-", 1)[1])


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
    cancelled. What no open invoice absorbs (it was already paid) is returned to the
    account as one ``Refund`` entry without an invoice. Returns that excess.
    """
    open_invoices = sorted(
        session.scalars(
            select(Invoice).where(
                Invoice.reservation_id == reservation.id, Invoice.status == INVOICE_OPENED
            )
        ),
        key=_running_number,
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
            invoice.status = INVOICE_CANCELLED
            invoice.resolved_at = now
        post_entry(
            session,
            account,
            ORIGIN_REFUND,
            reduction.cents,
            now=now,
            done_by=done_by,
            invoice_id=invoice.id,
            transaction_id=reservation.id,
            details={
                "transactionId": reservation.id,
                "orderId": reservation.order_id,
                "installment": invoice.installment,
                "reason": reason,
            },
        )
    if excess:
        post_entry(
            session,
            account,
            ORIGIN_REFUND,
            excess,
            now=now,
            done_by=done_by,
            transaction_id=reservation.id,
            details={
                "transactionId": reservation.id,
                "orderId": reservation.order_id,
                "reason": reason,
                "paidInvoicesReturned": True,
            },
        )
    return excess


def pay_invoice(
    session: Session,
    invoice_id: str,
    *,
    account_id: str | None = None,
    done_by: str | None = None,
    now: datetime | None = None,
) -> Invoice:
    """Mark an open invoice paid, restoring its value to the account. Paying twice is a no-op."""
    now = now or utcnow()
    account, invoice = lock_invoice(session, invoice_id, account_id)
    _resolve(session, account, invoice, INVOICE_PAID, done_by=done_by, now=now)
    session.flush()
    return invoice


def _resolve(
    session: Session,
    account: Account,
    invoice: Invoice,
    status: str,
    *,
    done_by: str | None,
    now: datetime,
) -> None:
    """Pay or cancel a locked account's open invoice: its value returns to the account.

    Reaching the status it already has is a no-op; a paid invoice cannot be cancelled
    and a cancelled one cannot be paid.
    """
    if invoice.status == status:
        return
    if invoice.status != INVOICE_OPENED:
        verb = "paid" if status == INVOICE_PAID else "cancelled"
        raise Conflict(
            f"invoice {invoice.id} is {invoice.status.lower()} and cannot be {verb}",
            code=f"invoice_{invoice.status.lower()}",
        )
    invoice.status = status
    invoice.resolved_at = now
    invoice.updated_at = now
    post_entry(
        session,
        account,
        ORIGIN_PAYMENT if status == INVOICE_PAID else ORIGIN_CANCELLATION,
        invoice.value_cents,
        now=now,
        done_by=done_by,
        invoice_id=invoice.id,
        transaction_id=invoice.reservation_id,
        details={"transactionId": invoice.reservation_id, "installment": invoice.installment},
    )


def cancel_invoice(
    session: Session,
    invoice_id: str,
    *,
    account_id: str | None = None,
    done_by: str | None = None,
    now: datetime | None = None,
) -> Invoice:
    """Cancel an open invoice, restoring its value. Cancelling twice is a no-op."""
    now = now or utcnow()
    account, invoice = lock_invoice(session, invoice_id, account_id)
    _resolve(session, account, invoice, INVOICE_CANCELLED, done_by=done_by, now=now)
    session.flush()
    return invoice


def postpone_invoice(
    session: Session,
    invoice_id: str,
    due_days: int,
    *,
    account_id: str | None = None,
    settings: StoreSettings | None = None,
    now: datetime | None = None,
) -> Invoice:
    """Move an open invoice's due date by ``due_days``, within the store's limits."""
    now = now or utcnow()
    settings = settings or load_store_settings(session)
    _account, invoice = lock_invoice(session, invoice_id, account_id)
    if invoice.status != INVOICE_OPENED:
        raise Conflict(f"invoice {invoice.id} is {invoice.status}", code="invoice_not_open")
    refusal = rules.postponement_refusal(
        enabled=settings.postponement_enabled,
        done_count=invoice.postponement_count,
        done_days=invoice.postponed_days,
        asked_days=due_days,
        limit_count=settings.invoice_postponement_limit,
        max_days=settings.max_postponement_days,
    )
    if refusal is not None:
        raise Conflict(refusal, code="postponement_refused")
    invoice.due_date += timedelta(days=due_days)
    invoice.postponement_count += 1
    invoice.postponed_days += due_days
    invoice.updated_at = now
    session.flush()
    return invoice


_KEEP = object()


def parse_invoice_status(value: object) -> str:
    """``Opened`` (or ``Open``), ``Paid`` or ``Cancelled``, in any case."""
    if not isinstance(value, str) or value.strip().lower() not in INVOICE_STATUSES:
        raise ValidationError("invalid status", fields={"status": "Opened, Paid or Cancelled"})
    return INVOICE_STATUSES[value.strip().lower()]


@dataclass(frozen=True)
class InvoiceChange:
    """What changing one invoice asks for: the arguments of ``update_invoice``."""

    invoice_id: str
    account_id: str | None = None
    status: str | None = None
    observation: object = _KEEP
    payment_link: object = _KEEP


def update_invoice(
    session: Session,
    invoice_id: str,
    *,
    account_id: str | None = None,
    status: str | None = None,
    observation: object = _KEEP,
    payment_link: object = _KEEP,
    done_by: str | None = None,
    now: datetime | None = None,
) -> Invoice:
    """Change an invoice's status (to Paid or Cancelled), observation or payment link."""
    change = InvoiceChange(invoice_id, account_id, status, observation, payment_link)
    return only(update_invoices(session, [change], done_by=done_by, now=now))


def update_invoices(
    session: Session,
    changes: Sequence[InvoiceChange],
    *,
    done_by: str | None = None,
    now: datetime | None = None,
) -> list[Invoice | ConnectorError]:
    """Apply many changes exactly as ``update_invoice`` would, one after the other.

    The accounts of the invoices are locked together (in id order) and the invoices read
    once; each change gets its invoice or the error that refused it, and a refused change
    leaves its invoice untouched. Paying a hundred invoices from a file restores the
    credit exactly as a hundred API calls would.
    """
    now = now or utcnow()
    owners = _owners(session, [c.invoice_id for c in changes])
    accounts = lock_accounts(session, owners.values())
    invoices = _fresh_invoices(session, list(owners))
    results: list[Invoice | ConnectorError] = []
    for change in changes:
        try:
            results.append(_change(session, change, owners, accounts, invoices, done_by, now))
        except ConnectorError as error:
            results.append(error)
    session.flush()
    return results


def _owners(session: Session, invoice_ids: Sequence[str]) -> dict[str, str]:
    """The account of each invoice that exists."""
    owners: dict[str, str] = {}
    for part in in_slices(invoice_ids):
        rows = session.execute(select(Invoice.id, Invoice.account_id).where(Invoice.id.in_(part)))
        owners.update({invoice_id: account_id for invoice_id, account_id in rows})
    return owners


def _fresh_invoices(session: Session, invoice_ids: Sequence[str]) -> dict[str, Invoice]:
    """The invoices, read again now that their accounts are locked."""
    found: dict[str, Invoice] = {}
    for part in in_slices(invoice_ids):
        found.update(
            {
                invoice.id: invoice
                for invoice in session.scalars(
                    select(Invoice)
                    .where(Invoice.id.in_(part))
                    .execution_options(populate_existing=True)
                )
            }
        )
    return found


def _change(
    session: Session,
    change: InvoiceChange,
    owners: dict[str, str],
    accounts: dict[str, Account],
    invoices: dict[str, Invoice],
    done_by: str | None,
    now: datetime,
) -> Invoice:
    """Check one change, then apply it: nothing is written unless all of it holds."""
    link, observation = change.payment_link, change.observation
    if (
        link is not _KEEP
        and link is not None
        and (
            not isinstance(link, str)
            or not link.startswith(("https://", "http://"))
            or len(link) > 2048
        )
    ):
        raise ValidationError("invalid payment link", fields={"paymentLink": "an http(s) URL"})
    if (
        observation is not _KEEP
        and observation is not None
        and (not isinstance(observation, str) or len(observation) > 4000)
    ):
        raise ValidationError(
            "invalid observation", fields={"observation": "text of at most 4000 characters"}
        )
    target = parse_invoice_status(change.status) if change.status is not None else None
    owner = owners.get(change.invoice_id)
    if owner is None or (change.account_id is not None and owner != change.account_id):
        raise NotFound(f"invoice {change.invoice_id!r} not found", code="invoice_not_found")
    account, invoice = accounts[owner], invoices[change.invoice_id]
    if target == INVOICE_PAID:
        _resolve(session, account, invoice, INVOICE_PAID, done_by=done_by, now=now)
    elif target == INVOICE_CANCELLED:
        _resolve(session, account, invoice, INVOICE_CANCELLED, done_by=done_by, now=now)
    elif target == INVOICE_OPENED and invoice.status != INVOICE_OPENED:
        raise Conflict(
            f"invoice {invoice.id} is {invoice.status} and cannot be reopened",
            code="invoice_not_open",
        )
    if observation is not _KEEP:
        invoice.observation = observation or None  # type: ignore[assignment]
        invoice.updated_at = now
    if link is not _KEEP:
        invoice.payment_link = link or None  # type: ignore[assignment]
        invoice.updated_at = now
    return invoice
