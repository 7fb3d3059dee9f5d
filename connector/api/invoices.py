"""Invoices: search (all, or one account's), read, change, cancel, pay, postpone."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response
from sqlalchemy.orm import Session

from connector.access.principals import READ, WRITE_INVOICES
from connector.api.routes import done_by, dump, json_body, no_content, query_args, route
from connector.api.schemas import invoices as s
from connector.api.schemas.common import page_of
from connector.bulk.filters import invoice_filter
from connector.context import now
from connector.credit import invoices as service
from connector.credit.account_search import get_account
from connector.credit.charges import Quote, quote_invoice
from connector.credit.invoice_search import get_invoice, invoice_summary, search_invoices
from connector.credit.models import Invoice
from connector.credit.receipts import Receipt
from connector.credit.settings import load_store_settings
from connector.wire import store_zone

TAG = "Invoices"
INVOICE = "/accounts/<account_id>/invoices/<invoice_id>"
SEARCH_HELP = (
    "Filters combine with op (and by default). Rows are ordered oldest first by creation, "
    "then id, so pages are stable; summary counts and totals every matching invoice, not "
    "only the page: total is the sum of the open ones."
)


def _search(
    session: Session, q: dict[str, Any], account_id: str | None, *, check_account: bool
) -> Response:
    settings = load_store_settings(session)
    f = invoice_filter(q, account_id, settings)
    page = page_of(q)
    today = settings.today(now())
    if check_account and account_id is not None:
        get_account(session, account_id)
    rows = search_invoices(session, f, today, offset=page.offset, limit=page.limit, direction="asc")
    summary = invoice_summary(session, f, today)
    quoted = [QuotedInvoice(row, quote_invoice(row, settings, today)) for row in rows]
    with store_zone(settings.zone()):
        return dump(s.InvoicePage, {"data": quoted, "summary": summary})


class QuotedInvoice:
    """An invoice as the API answers it: its columns, and its ``quote`` on a day."""

    def __init__(self, invoice: Invoice, quote: Quote) -> None:
        self.invoice, self.quote = invoice, quote

    def __getattr__(self, name: str) -> Any:
        return getattr(self.invoice, name)


def _dump_invoice(session: Session, invoice: Invoice, as_of: date | None = None) -> Response:
    settings = load_store_settings(session)
    quote = quote_invoice(invoice, settings, as_of or settings.today(now()))
    with store_zone(settings.zone()):
        return dump(s.InvoiceOut, QuotedInvoice(invoice, quote))


def _receipt(body: dict[str, Any]) -> Receipt:
    return Receipt(
        paid_on=body.get("paymentDate"),
        method=body.get("paymentMethod"),
        reference=body.get("paymentReference"),
        received_cents=body.get("amountReceived"),
    )


@route(
    "GET",
    "/invoices",
    summary="Search invoices",
    tag=TAG,
    permission=READ,
    query=s.GlobalInvoiceQuery,
    response=s.InvoicePage,
    description=SEARCH_HELP + " creditAccountId, when given, always applies, even with op=or.",
)
def search_all_invoices(session: Session) -> Response:
    q = query_args(s.GlobalInvoiceQuery)
    return _search(session, q, q.get("creditAccountId"), check_account=False)


@route(
    "GET",
    "/accounts/<account_id>/invoices",
    summary="Search an account's invoices",
    tag=TAG,
    permission=READ,
    query=s.InvoiceQuery,
    response=s.InvoicePage,
    description=SEARCH_HELP,
)
def search_account_invoices(session: Session, account_id: str) -> Response:
    return _search(session, query_args(s.InvoiceQuery), account_id, check_account=True)


@route(
    "GET",
    INVOICE,
    summary="Retrieve an invoice",
    tag=TAG,
    permission=READ,
    query=s.InvoiceQuoteQuery,
    response=s.InvoiceOut,
    description="With asOf (a date of the store), amountDue, lateFee, interest and "
    "daysOverdue are quoted for that day: what paying on it would take.",
)
def get_invoice_view(session: Session, account_id: str, invoice_id: str) -> Response:
    q = query_args(s.InvoiceQuoteQuery)
    return _dump_invoice(session, get_invoice(session, account_id, invoice_id), q.get("asOf"))


@route(
    "PUT",
    INVOICE,
    summary="Change an invoice",
    tag=TAG,
    permission=WRITE_INVOICES,
    body=s.ChangeInvoiceBody,
    errors=(409,),
    description="Sets status (Paid or Cancelled; Open/Opened keeps an open invoice open), "
    "observation and paymentLink; null clears a text. With status Paid, paymentDate, "
    "paymentMethod, paymentReference and amountReceived record the payment as POST "
    ".../payments does. A paid invoice cannot be cancelled and a cancelled one cannot be "
    "paid (409). Answers 200 without a body.",
)
def change_invoice(session: Session, account_id: str, invoice_id: str) -> Response:
    b = json_body(s.ChangeInvoiceBody)
    texts = {
        name: b[key]
        for key, name in (("observation", "observation"), ("paymentLink", "payment_link"))
        if key in b
    }
    service.update_invoice(
        session,
        invoice_id,
        account_id=account_id,
        status=b.get("status"),
        receipt=_receipt(b),
        done_by=done_by(),
        now=now(),
        **texts,
    )
    return no_content()


@route(
    "DELETE",
    INVOICE,
    summary="Cancel an invoice",
    tag=TAG,
    permission=WRITE_INVOICES,
    errors=(409,),
    description="Restores its value to the account. Cancelling twice changes nothing; a "
    "paid invoice cannot be cancelled (409). Answers 200 without a body.",
)
def cancel_invoice(session: Session, account_id: str, invoice_id: str) -> Response:
    service.cancel_invoice(session, invoice_id, account_id=account_id, done_by=done_by(), now=now())
    return no_content()


@route(
    "POST",
    INVOICE + "/payments",
    summary="Mark an invoice paid",
    tag=TAG,
    permission=WRITE_INVOICES,
    body=s.PaymentBody,
    response=s.InvoiceOut,
    errors=(409,),
    description="Records the payment (its date, method, reference and the amount received, "
    "by default the amount due today) and restores the invoice's value to the account: "
    "late charges never consume credit, and are booked beside the Payment as Invoice "
    "entries of kind LateFee and Interest (the statement's metadata.kind). Paying twice "
    "changes nothing; a cancelled invoice cannot be paid (409). The body may be empty.",
)
def pay_invoice(session: Session, account_id: str, invoice_id: str) -> Response:
    b = json_body(s.PaymentBody)
    invoice = service.pay_invoice(
        session,
        invoice_id,
        account_id=account_id,
        receipt=_receipt(b),
        done_by=done_by(),
        now=now(),
    )
    return _dump_invoice(session, invoice)


@route(
    "PUT",
    INVOICE + "/postponement",
    summary="Postpone an invoice",
    tag=TAG,
    permission=WRITE_INVOICES,
    body=s.PostponeBody,
    errors=(409,),
    description="Moves the due date by dueDays, within the store's postponement settings "
    "(409 postponement_refused otherwise). Answers 200 without a body.",
)
def postpone_invoice(session: Session, account_id: str, invoice_id: str) -> Response:
    b = json_body(s.PostponeBody)
    service.postpone_invoice(session, invoice_id, b["dueDays"], account_id=account_id, now=now())
    return no_content()
