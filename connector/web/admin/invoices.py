"""Invoices: the filtered list and the invoice page (mark paid, cancel, link, postpone)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Literal, cast

from flask import redirect, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from connector.access.principals import WRITE_CREDIT
from connector.context import get_db, now
from connector.credit import invoices as invoice_service
from connector.credit.account_search import count_rows
from connector.credit.charges import quote_invoice
from connector.credit.dashboard import owner_emails
from connector.credit.invoice_search import (
    OVERDUE,
    InvoiceFilter,
    invoice_summary,
    sorted_invoice_select,
)
from connector.credit.models import Account, Invoice, InvoiceStatus
from connector.credit.receipts import Receipt
from connector.errors import Code, NotFound
from connector.web import i18n
from connector.web.admin.audit import activity_for
from connector.web.admin.base import bp, needs
from connector.web.auth import done_by
from connector.web.forms import Form, submit
from connector.web.pages import (
    page_from_request,
    parse_date,
    parse_day,
    payment_methods,
    render,
    store_settings,
    store_today,
    with_filters,
)

STATUSES = (InvoiceStatus.OPENED, OVERDUE, InvoiceStatus.PAID, InvoiceStatus.CANCELLED)
_SORTS = ("created", "due", "value")


def invoice_filter_from_request() -> InvoiceFilter:
    """The list's filters as the query string gives them (bad values are ignored)."""
    args = request.args
    return InvoiceFilter(
        account_id=(args.get("account") or "").strip() or None,
        statuses=tuple(s for s in args.getlist("status") if s in STATUSES),
        created_from=parse_day(args.get("created_from")),
        created_to=parse_day(args.get("created_to"), end=True),
        due_from=parse_date(args.get("due_from")),
        due_to=parse_date(args.get("due_to")),
        order_id=(args.get("order") or "").strip() or None,
        friendly_id=(args.get("friendly") or "").strip() or None,
    )


@bp.get("/invoices")
def invoices() -> tuple[str, int]:
    f = invoice_filter_from_request()
    sort = request.args.get("sort") if request.args.get("sort") in _SORTS else "created"
    direction: Literal["asc", "desc"] = "asc" if request.args.get("dir") == "asc" else "desc"
    today = store_today()
    query = sorted_invoice_select(f, today, sort=sort, direction=direction)  # type: ignore[arg-type]

    def load(session: Session) -> dict[str, Any]:
        page = page_from_request(count_rows(session, query))
        rows = list(session.scalars(query.offset(page.offset).limit(page.size)))
        emails = owner_emails(session, {r.account_id for r in rows})
        return {
            "page": page,
            "rows": rows,
            "emails": emails,
            "summary": invoice_summary(session, f, today),
        }

    return render(
        "admin/invoices.html",
        filter=f,
        statuses=STATUSES,
        sort=sort,
        direction=direction,
        args=request.args,
        export_url=with_filters("admin.export_invoices"),
        **get_db().run(load),
    )


def _invoice_page(
    invoice_id: str,
    *,
    status: int = 200,
    form_name: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    error: str | None = None,
    confirm_pay: dict[str, Any] | None = None,
) -> tuple[str, int]:
    def load(session: Session) -> tuple[Invoice, Account]:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None:
            raise NotFound(
                "invoice {invoice} not found", code=Code.INVOICE_NOT_FOUND, invoice=invoice_id
            )
        account = session.get(Account, invoice.account_id)
        assert account is not None
        return invoice, account

    invoice, account = get_db().run(load)
    return render(
        "admin/invoice.html",
        status,
        invoice=invoice,
        account=account,
        settings=store_settings(),
        form_name=form_name,
        errors=errors or {},
        values=values or {},
        error=error,
        **activity_for(subject_id=invoice_id),
        confirm_pay=confirm_pay,
    )


@bp.get("/invoices/<invoice_id>")
def invoice(invoice_id: str) -> tuple[str, int]:
    return _invoice_page(invoice_id)


def _back(invoice_id: str) -> WerkzeugResponse:
    return redirect(url_for("admin.invoice", invoice_id=invoice_id))


def _submit(
    invoice_id: str,
    form_name: str,
    work: Callable[[Session], object],
    done: str,
    form: Form | None = None,
) -> WerkzeugResponse | tuple[str, int]:
    """``submit`` on the invoice page, flashing ``done``."""
    page = partial(_invoice_page, invoice_id)
    return submit(page, lambda: _back(invoice_id), form_name, work, lambda _: done, form)


@bp.post("/invoices/<invoice_id>/pay")
@needs(WRITE_CREDIT)
def pay(invoice_id: str) -> WerkzeugResponse | tuple[str, int]:
    """The seeds' "Mark as paid", with how: the date (default today), the method, a
    reference and the amount received (default the amount due that day). The invoice's
    value returns to the available credit; late charges are booked apart. Two steps, no
    script needed: the first post shows what will be recorded and asks to confirm; only
    the post carrying ``confirmed=1`` records it."""
    form = Form.from_request()
    paid_on = form.day("paymentDate")
    received = form.cents("amountReceived", required=False)
    receipt = Receipt(
        paid_on=paid_on,
        method=form.text("paymentMethod", max_length=16) or None,
        reference=form.text("paymentReference", max_length=200) or None,
        received_cents=received,
    )
    if form.data.get("confirmed") != "1":
        return _confirm_payment(invoice_id, form, receipt)
    return _submit(
        invoice_id,
        "pay",
        lambda s: invoice_service.pay_invoice(
            s, invoice_id, receipt=receipt, done_by=done_by(), now=now()
        ),
        i18n.gettext("Invoice marked as paid."),
        form,
    )


def _confirm_payment(invoice_id: str, form: Form, receipt: Receipt) -> tuple[str, int]:
    """The invoice page asking to confirm the payment typed: its date, method, reference
    and amount received (when left empty, the amount due on that date, as recorded)."""
    if form.errors:
        return _invoice_page(
            invoice_id,
            status=400,
            form_name="pay",
            errors=form.errors,
            values=dict(form.data),
            error=i18n.gettext("Please correct the fields marked below."),
        )
    settings = store_settings()
    paid_on = receipt.paid_on or store_today()

    def amount_due(session: Session) -> int:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None:
            raise NotFound(
                "invoice {invoice} not found", code=Code.INVOICE_NOT_FOUND, invoice=invoice_id
            )
        return quote_invoice(invoice, settings, paid_on).amount_due_cents

    received = receipt.received_cents
    if received is None:
        received = get_db().run(amount_due, read_only=True)
    methods = dict(payment_methods())
    return _invoice_page(
        invoice_id,
        form_name="pay",
        values=dict(form.data),
        confirm_pay={
            "paid_on": paid_on,
            "method": methods.get(receipt.method or "", ""),
            "reference": receipt.reference or "",
            "received_cents": received,
        },
    )


@bp.post("/invoices/<invoice_id>/cancel")
@needs(WRITE_CREDIT)
def cancel(invoice_id: str) -> WerkzeugResponse | tuple[str, int]:
    if request.form.get("confirm") != "1":
        return _invoice_page(
            invoice_id,
            status=400,
            form_name="status",
            errors={"confirm": i18n.gettext("Tick the box to confirm.")},
            error=i18n.gettext("Please correct the fields marked below."),
        )
    return _submit(
        invoice_id,
        "status",
        lambda s: invoice_service.cancel_invoice(s, invoice_id, done_by=done_by(), now=now()),
        i18n.gettext("Invoice cancelled."),
    )


@bp.post("/invoices/<invoice_id>/details")
@needs(WRITE_CREDIT)
def update_details(invoice_id: str) -> WerkzeugResponse | tuple[str, int]:
    """The payment link (the customer's Pay button) and the observation."""
    form = Form.from_request()
    link = form.text("paymentLink", max_length=2048)
    observation = form.text("observation", max_length=4000)
    return _submit(
        invoice_id,
        "details",
        lambda s: invoice_service.update_invoice(
            s,
            invoice_id,
            payment_link=link or None,
            observation=observation or None,
            done_by=done_by(),
            now=now(),
        ),
        i18n.gettext("Payment link and observation saved."),
        form,
    )


@bp.post("/invoices/<invoice_id>/postpone")
@needs(WRITE_CREDIT)
def postpone(invoice_id: str) -> WerkzeugResponse | tuple[str, int]:
    form = Form.from_request()
    days = form.integer("dueDays", 1, 3650)
    return _submit(
        invoice_id,
        "postpone",
        # form.check() has refused a missing or bad number before this runs
        lambda s: invoice_service.postpone_invoice(s, invoice_id, cast(int, days), now=now()),
        i18n.gettext("Due date postponed by {days} days.", days=days),
        form,
    )
