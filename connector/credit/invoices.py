"""Invoices: paid, cancelled, postponed, annotated (issued and reduced in ``invoicing``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import audit
from connector.clock import utcnow
from connector.credit import rules
from connector.credit.ledger import in_slices, lock_accounts, lock_invoice, post_entry
from connector.credit.models import Account, Invoice, InvoiceStatus, Origin
from connector.credit.receipts import Receipt, book_payment
from connector.credit.settings import StoreSettings, load_store_settings
from connector.errors import Code, Conflict, ConnectorError, NotFound, ValidationError, only

INVOICE_STATUSES = {
    "opened": InvoiceStatus.OPENED,
    "open": InvoiceStatus.OPENED,
    "paid": InvoiceStatus.PAID,
    "cancelled": InvoiceStatus.CANCELLED,
    "canceled": InvoiceStatus.CANCELLED,
}
# Why an invoice that is no longer open cannot be paid or cancelled.
_RESOLVED = {InvoiceStatus.PAID: Code.INVOICE_PAID, InvoiceStatus.CANCELLED: Code.INVOICE_CANCELLED}


def pay_invoice(
    session: Session,
    invoice_id: str,
    *,
    account_id: str | None = None,
    receipt: Receipt | None = None,
    settings: StoreSettings | None = None,
    done_by: str | None = None,
    now: datetime | None = None,
) -> Invoice:
    """Mark an open invoice paid, restoring its value to the account. Paying twice is a no-op."""
    now = now or utcnow()
    settings = settings or load_store_settings(session)
    account, invoice = lock_invoice(session, invoice_id, account_id)
    before = _audited(invoice)
    _resolve(
        session,
        account,
        invoice,
        InvoiceStatus.PAID,
        receipt=receipt or Receipt(),
        settings=settings,
        done_by=done_by,
        now=now,
    )
    session.flush()
    audit.record_many(session, _trail(invoice, before), at=now)
    return invoice


def _resolve(
    session: Session,
    account: Account,
    invoice: Invoice,
    status: str,
    *,
    receipt: Receipt,
    settings: StoreSettings | None,
    done_by: str | None,
    now: datetime,
) -> None:
    """Pay or cancel a locked account's open invoice: its value returns to the account.

    Reaching the status it already has is a no-op; a paid invoice cannot be cancelled
    and a cancelled one cannot be paid. Paying books what was received (``receipts.book_payment``).
    """
    if invoice.status == status:
        return
    if invoice.status != InvoiceStatus.OPENED:
        raise Conflict(
            "invoice {invoice} is {status} and cannot be {verb}",
            code=_RESOLVED[InvoiceStatus(invoice.status)],
            invoice=invoice.id,
            status=invoice.status.lower(),
            verb="paid" if status == InvoiceStatus.PAID else "cancelled",
        )
    if status == InvoiceStatus.PAID:
        book_payment(
            session,
            account,
            invoice,
            receipt,
            settings or load_store_settings(session),
            done_by=done_by,
            now=now,
        )
    else:
        post_entry(
            session,
            account,
            Origin.CANCELLATION,
            invoice.value_cents,
            now=now,
            done_by=done_by,
            invoice_id=invoice.id,
            reservation_id=invoice.reservation_id,
            details={"transactionId": invoice.reservation_id, "installment": invoice.installment},
        )
    invoice.status = status
    invoice.resolved_at = now
    invoice.updated_at = now


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
    before = _audited(invoice)
    _resolve(
        session,
        account,
        invoice,
        InvoiceStatus.CANCELLED,
        receipt=Receipt(),
        settings=None,
        done_by=done_by,
        now=now,
    )
    session.flush()
    audit.record_many(session, _trail(invoice, before), at=now)
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
    if invoice.status != InvoiceStatus.OPENED:
        raise Conflict(
            "invoice {invoice} is {status}",
            code=Code.INVOICE_NOT_OPEN,
            invoice=invoice.id,
            status=invoice.status,
        )
    refusal = rules.postponement_refusal(
        enabled=settings.postponement_enabled,
        done_count=invoice.postponement_count,
        done_days=invoice.postponed_days,
        asked_days=due_days,
        limit_count=settings.invoice_postponement_limit,
        max_days=settings.max_postponement_days,
    )
    if refusal is not None:
        raise Conflict(refusal.template, code=Code.POSTPONEMENT_REFUSED, **refusal.values)
    before = _audited(invoice)
    invoice.due_date = settings.postponed(invoice.due_date, due_days)
    invoice.postponement_count += 1
    invoice.postponed_days += due_days
    invoice.updated_at = now
    session.flush()
    audit.record_many(session, _trail(invoice, before), at=now)
    return invoice


# What the trail shows of an invoice's change.
_AUDITED = (
    "status",
    "due_date",
    "observation",
    "payment_link",
    "paid_on",
    "payment_method",
    "payment_reference",
    "received_cents",
    "late_fee_cents",
    "interest_cents",
)


def _audited(invoice: Invoice) -> dict[str, object]:
    return {name: getattr(invoice, name) for name in _AUDITED}


def _trail(invoice: Invoice, before: dict[str, object]) -> list[audit.Change]:
    """The invoice's change for the trail (none when nothing moved), named for its effect."""
    after = _audited(invoice)
    if after == before:
        return []
    if after["status"] != before["status"]:
        action = "invoice.paid" if after["status"] == InvoiceStatus.PAID else "invoice.cancelled"
    elif after["due_date"] != before["due_date"]:
        action = "invoice.postponed"
    else:
        action = "invoice.changed"
    return [audit.Change(action, "invoice", invoice.id, invoice.account_id, before, after)]


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
    receipt: Receipt = field(default_factory=Receipt)  # when it pays the invoice


def update_invoice(
    session: Session,
    invoice_id: str,
    *,
    account_id: str | None = None,
    status: str | None = None,
    observation: object = _KEEP,
    payment_link: object = _KEEP,
    receipt: Receipt | None = None,
    done_by: str | None = None,
    now: datetime | None = None,
) -> Invoice:
    """Change an invoice's status (to Paid or Cancelled), observation or payment link."""
    change = InvoiceChange(
        invoice_id, account_id, status, observation, payment_link, receipt or Receipt()
    )
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
    settings = load_store_settings(session)
    owners = _owners(session, [c.invoice_id for c in changes])
    accounts = lock_accounts(session, owners.values())
    invoices = _fresh_invoices(session, list(owners))
    results: list[Invoice | ConnectorError] = []
    trail: list[audit.Change] = []
    for change in changes:
        invoice = invoices.get(change.invoice_id)
        before = _audited(invoice) if invoice is not None else {}
        try:
            changed = _change(session, change, owners, accounts, invoices, settings, done_by, now)
        except ConnectorError as error:
            results.append(error)
            continue
        results.append(changed)
        trail += _trail(changed, before)
    session.flush()
    audit.record_many(session, trail, at=now)
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
    settings: StoreSettings,
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
        raise NotFound(
            "invoice {invoice} not found", code=Code.INVOICE_NOT_FOUND, invoice=change.invoice_id
        )
    account, invoice = accounts[owner], invoices[change.invoice_id]
    if target in (InvoiceStatus.PAID, InvoiceStatus.CANCELLED):
        _resolve(
            session,
            account,
            invoice,
            target,
            receipt=change.receipt,
            settings=settings,
            done_by=done_by,
            now=now,
        )
    elif target == InvoiceStatus.OPENED and invoice.status != InvoiceStatus.OPENED:
        raise Conflict(
            "invoice {invoice} is {status} and cannot be reopened",
            code=Code.INVOICE_NOT_OPEN,
            invoice=invoice.id,
            status=invoice.status,
        )
    if observation is not _KEEP:
        invoice.observation = observation or None  # type: ignore[assignment]
        invoice.updated_at = now
    if link is not _KEEP:
        invoice.payment_link = link or None  # type: ignore[assignment]
        invoice.updated_at = now
    return invoice
