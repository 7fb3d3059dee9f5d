"""Payments: every authorization the gateway asked for, approved or denied, and one
payment's page with its timeline and the actions its state allows."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy.orm import Session

from connector.context import get_db
from connector.credit.account_search import count_rows
from connector.credit.dashboard import owner_emails
from connector.errors import N_, Code
from connector.payments.history import payment_record, reviews_of
from connector.payments.models import PaymentStatus
from connector.payments.search import PURCHASE_STATES, PaymentFilter, payment_select
from connector.web import i18n
from connector.web.admin.base import bp
from connector.web.pages import page_from_request, parse_day, render, store_settings

# A denial's code in words staff can act on; a code not listed shows the stored message.
_DENIALS = {
    Code.INSUFFICIENT_CREDIT: N_("Not enough available credit for this purchase."),
    Code.NO_ACCOUNT: N_("The buyer has no credit account."),
    Code.ACCOUNT_CLOSED: N_("The buyer's credit account is closed."),
    Code.OVERDUE_INVOICES: N_("The account has overdue invoices and is blocked."),
    Code.INSTALLMENTS_NOT_ALLOWED: N_("The store does not offer this number of installments."),
    Code.GROWTH_LIMIT_EXCEEDED: N_("The value grew more than the store allows."),
    Code.CURRENCY_NOT_SUPPORTED: N_("The store does not take this currency."),
    Code.PAYMENT_METHOD_NOT_SUPPORTED: N_("The store does not take this payment method."),
    Code.PAYMENT_CANCELLED: N_("The gateway cancelled the payment before it was decided."),
    Code.REVIEW_DENIED: N_("Denied by staff in the over-limit review."),
    Code.TEST_DENIED: N_("A test card that is always denied."),
    Code.TEST_ASYNC_DENIED: N_("A test card that is denied later."),
    Code.TEST_CARD_UNKNOWN: N_("A test card this connector does not know."),
}


def denial_message(code: str | None, stored: str | None) -> str:
    """Why a payment was denied, in the page's language."""
    template = _DENIALS.get(code) if code else None  # type: ignore[call-overload]
    if template is not None:
        return i18n.gettext(template)
    return stored or ""


def _labels() -> dict[str, dict[str, str]]:
    return {
        "decision": {
            # "Payment ...": the words agree with the payment (pago, pagamento) in es and pt.
            PaymentStatus.APPROVED: i18n.gettext("Payment approved"),
            PaymentStatus.DENIED: i18n.gettext("Payment denied"),
            PaymentStatus.UNDEFINED: i18n.gettext("Waiting for a decision"),
        },
        "state": {
            "held": i18n.gettext("Credit held"),
            "settled": i18n.gettext("Settled"),
            "refunded": i18n.gettext("Refunded"),
            "cancelled": i18n.gettext("Cancelled"),
        },
    }


def payment_filter_from_request() -> PaymentFilter:
    """The list's filters as the query string gives them (bad values are ignored)."""
    args = request.args
    decision = args.get("decision")
    state = args.get("state")
    return PaymentFilter(
        decision=decision if decision in tuple(PaymentStatus) else None,
        state=state if state in PURCHASE_STATES else None,
        account_id=(args.get("account") or "").strip() or None,
        created_from=parse_day(args.get("from")),
        created_to=parse_day(args.get("to"), end=True),
        text=(args.get("q") or "").strip() or None,
    )


@bp.get("/payments")
def payments() -> tuple[str, int]:
    f = payment_filter_from_request()
    query = payment_select(f)

    def load(session: Session) -> dict[str, Any]:
        page = page_from_request(count_rows(session, query))
        rows = list(session.scalars(query.offset(page.offset).limit(page.size)))
        return {
            "page": page,
            "rows": rows,
            "emails": owner_emails(session, {r.account_id for r in rows if r.account_id}),
            "reviews": reviews_of(session, {r.payment_id for r in rows}),
        }

    return render(
        "admin/payments.html",
        settings=store_settings(),
        filter=f,
        args=request.args,
        labels=_labels(),
        states=PURCHASE_STATES,
        denial_message=denial_message,
        **get_db().run(load),
    )


def payment_page(
    payment_id: str,
    *,
    status: int = 200,
    form_name: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    error: str | None = None,
) -> tuple[str, int]:
    """One payment: its facts, its timeline and the refund and cancel forms it allows."""
    record = get_db().run(lambda s: payment_record(s, payment_id))
    return render(
        "admin/payment.html",
        status,
        record=record,
        payment=record.payment,
        labels=_labels(),
        denial_message=denial_message,
        form_name=form_name,
        errors=errors or {},
        values=values or {},
        error=error,
    )


@bp.get("/payments/<payment_id>")
def payment(payment_id: str) -> tuple[str, int]:
    return payment_page(payment_id)
