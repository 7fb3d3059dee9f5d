"""The Pix code of an open invoice: the store's key, the amount due today, the invoice.

When the store keeps a Pix key (``pix_key`` with ``pix_merchant_name`` and ``_city``),
every open invoice offers a static BR Code ("Pix copia e cola") for its amount due on the
store's day, late charges included, with the invoice's friendly id as the reference label
(``txid``), so that a credit arriving on the store's account names the invoice it pays.
The amount grows while the invoice is overdue: a code is good for the day it was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from connector import pix
from connector.credit.charges import quote_invoice
from connector.credit.models import Invoice, InvoiceStatus
from connector.credit.settings import StoreSettings


@dataclass(frozen=True)
class PixCode:
    payload: str  # the "copia e cola" text, which the QR code holds
    amount_cents: int
    txid: str
    on: date  # the store's day its amount is for


def pix_code(invoice: Invoice, settings: StoreSettings, today: date) -> PixCode | None:
    """The code paying ``invoice`` today; None when the store takes no Pix or the invoice
    is not open."""
    if settings.pix_key is None or invoice.status != InvoiceStatus.OPENED:
        return None
    amount = quote_invoice(invoice, settings, today).amount_due_cents
    if amount <= 0:
        return None  # an invoice reduced to nothing by refunds is cancelled, never paid
    txid = pix.txid_for(invoice.friendly_id)
    payload = pix.brcode(
        key=settings.pix_key,
        merchant_name=settings.pix_merchant_name,
        merchant_city=settings.pix_merchant_city,
        amount_cents=amount,
        txid=txid,
    )
    return PixCode(payload, amount, txid, today)
