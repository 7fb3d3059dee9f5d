"""The invoice mails to customers: written in the recipient's language, as plain text and
as HTML, with each open invoice's amount due, due date, Pay link and Pix code (its QR code
an inline image: mail clients show no SVG and block ``data:`` images)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from babel.dates import format_date
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from connector import pix
from connector.catalogs import LOCALES, money_text, ntranslate, translate
from connector.credit.charges import Quote, quote_invoice
from connector.credit.models import Invoice, InvoiceStatus
from connector.credit.pix_codes import PixCode, pix_code
from connector.credit.settings import StoreSettings
from connector.errors import N_
from connector.notify.reminders import ISSUED, PAID, Due


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str
    images: dict[str, bytes]  # content id: PNG


@dataclass(frozen=True)
class Line:
    """One invoice as a mail shows it."""

    invoice: Invoice
    quote: Quote
    pix: PixCode | None
    qr_cid: str | None


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("connector.notify", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _subject(due: Due, first: Line, language: str, money: Any, day: Any) -> str:
    invoice = first.invoice
    if due.rule == ISSUED:
        return ntranslate(
            language,
            "Your purchase was invoiced: {n} invoice, due on {date}",
            "Your purchase was invoiced: {n} invoices, the first due on {date}",
            len(due.invoices),
            date=day(invoice.due_date),
        )
    if due.rule == PAID:
        return translate(
            language, "Payment received for invoice {id}: thank you", id=invoice.friendly_id
        )
    if due.rule.startswith("before:"):
        return translate(
            language,
            "Invoice {id} is due on {date}: {amount}",
            id=invoice.friendly_id,
            date=day(invoice.due_date),
            amount=money(first.quote.amount_due_cents),
        )
    if due.rule == "after:0":
        return translate(
            language,
            "Invoice {id} is due today: {amount}",
            id=invoice.friendly_id,
            amount=money(first.quote.amount_due_cents),
        )
    return translate(
        language,
        "Invoice {id} is overdue: {amount} due today",
        id=invoice.friendly_id,
        amount=money(first.quote.amount_due_cents),
    )


# What each mail says first, by its rule (``before`` and ``after`` by their side).
INTROS = {
    ISSUED: N_("Your purchase was invoiced. These are its invoices:"),
    PAID: N_("We received the payment of this invoice. Thank you."),
    "before": N_("A reminder: this invoice is due soon."),
    "after:0": N_("This invoice is due today."),
    "after": N_("This invoice is overdue. The amount due today includes the late charges."),
}


def invoice_mail(
    due: Due,
    *,
    language: str,
    settings: StoreSettings,
    today: date,
    my_credits_url: str | None,
) -> Mail:
    """The mail of ``due`` in ``language``, its amounts as of the store's ``today``."""
    locale = LOCALES[language]

    def money(cents: int) -> str:
        return money_text(cents, settings.currency, locale)

    def day(value: date) -> str:
        return format_date(value, format="long", locale=locale)

    lines = []
    images: dict[str, bytes] = {}
    for invoice in due.invoices:
        code = pix_code(invoice, settings, today) if due.rule != PAID else None
        cid = None
        if code is not None:
            cid = f"pix-{pix.txid_for(invoice.friendly_id).lower()}"
            images[cid] = pix.qr_png(code.payload, scale=4)
        lines.append(Line(invoice, quote_invoice(invoice, settings, today), code, cid))
    intro = INTROS.get(due.rule) or INTROS[due.rule.split(":")[0]]
    context = {
        "_": lambda message, **values: translate(language, message, **values),
        "money": money,
        "day": day,
        "intro": translate(language, intro),
        "lines": lines,
        "paid": due.rule == PAID,
        "opened": InvoiceStatus.OPENED,
        "my_credits_url": my_credits_url,
        "instructions": settings.payment_instructions,
        # The logo by its absolute https address (checked when saved): a mail reader
        # loads it from there, as any remote image, when the reader allows images.
        "store_name": settings.store_name,
        "store_logo_url": settings.store_logo_url,
    }
    environment = _environment()
    return Mail(
        subject=_subject(due, lines[0], language, money, day),
        text=environment.get_template("invoices.txt").render(context),
        html=environment.get_template("invoices.html").render(context),
        images=images,
    )
