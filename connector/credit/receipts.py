"""Getting paid: what paying an invoice records, and how it is booked.

"Mark as paid" (the admin, the API, the invoice import) records the store's date it was
paid, the method, a reference and the amount received, and books the late charges taken
with it beside the payment (``charges``), so that only the invoice's value restores credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from connector.credit.charges import quote_invoice, split_received
from connector.credit.ledger import post_entry
from connector.credit.models import Account, Invoice, Origin, PaymentMethod
from connector.credit.settings import StoreSettings
from connector.errors import Reason, ValidationError
from connector.money import cents_to_decimal

MAX_REFERENCE = 200


@dataclass(frozen=True)
class Receipt:
    """What paying an invoice records. ``paid_on`` is the store's date it was paid (default:
    today there), ``received_cents`` what came in (default: the amount due on ``paid_on``,
    its value and late charges); ``method`` one of ``PaymentMethod``."""

    paid_on: date | None = None
    method: str | None = None
    reference: str | None = None
    received_cents: int | None = None


def book_payment(
    session: Session,
    account: Account,
    invoice: Invoice,
    receipt: Receipt,
    settings: StoreSettings,
    *,
    done_by: str | None,
    now: datetime,
) -> None:
    """Record how an open invoice was paid and book it: the charges received as ``LateFee``
    and ``Interest`` entries, what was received as the ``Payment``. The entries net to the
    invoice's value, which is all the credit that comes back (``charges``).

    What was received must cover the value and may not exceed the amount due on the day
    it was paid; less than the charges quoted is the store waiving the rest.
    """
    today = settings.today(now)
    paid_on = receipt.paid_on or today
    problems: dict[str, str | Reason] = {}
    if paid_on > today:
        problems["paymentDate"] = Reason("cannot be after today, {today}", today=today)
    elif paid_on < settings.today(invoice.created_at):
        problems["paymentDate"] = Reason(
            "cannot be before the invoice was issued, {day}", day=settings.today(invoice.created_at)
        )
    method = _payment_method(receipt.method, problems)
    reference = (receipt.reference or "").strip() or None
    if reference is not None and len(reference) > MAX_REFERENCE:
        problems["paymentReference"] = Reason("at most {limit} characters", limit=MAX_REFERENCE)
    quote = quote_invoice(invoice, settings, paid_on)
    received = quote.amount_due_cents if receipt.received_cents is None else receipt.received_cents
    if not problems and received < invoice.value_cents:
        problems["amountReceived"] = Reason(
            "at least the invoice's value, {value}", value=cents_to_decimal(invoice.value_cents)
        )
    elif not problems and received > quote.amount_due_cents:
        problems["amountReceived"] = Reason(
            "at most the amount due on {day}, {due}",
            day=paid_on,
            due=cents_to_decimal(quote.amount_due_cents),
        )
    if problems:
        raise ValidationError(
            "invalid payment of invoice {invoice}", fields=problems, invoice=invoice.id
        )
    fee, interest = split_received(quote.charges, received - invoice.value_cents)
    invoice.paid_on, invoice.payment_method, invoice.payment_reference = paid_on, method, reference
    invoice.received_cents, invoice.late_fee_cents, invoice.interest_cents = received, fee, interest
    booked = {"transactionId": invoice.reservation_id, "installment": invoice.installment}
    for origin, cents in (
        (Origin.LATE_FEE, -fee),
        (Origin.INTEREST, -interest),
        (Origin.PAYMENT, received),
    ):
        if cents:
            post_entry(
                session,
                account,
                origin,
                cents,
                now=now,
                done_by=done_by,
                invoice_id=invoice.id,
                reservation_id=invoice.reservation_id,
                details={
                    **booked,
                    "paidOn": paid_on.isoformat(),
                    "paymentMethod": method,
                    "paymentReference": reference,
                    "daysOverdue": quote.charges.days_overdue,
                },
            )


def _payment_method(text: str | None, problems: dict[str, str | Reason]) -> str | None:
    if text is None or not text.strip():
        return None
    method = text.strip().lower()
    if method not in PaymentMethod.__members__.values():
        problems["paymentMethod"] = Reason(
            "one of {choices}", choices=", ".join(m.value for m in PaymentMethod)
        )
        return None
    return method
