"""My Credits: the customer's own account, reached by a signed link or a one-time e-mail link.

A customer session names one account (and, after an e-mail sign-in, the holder who
signed in). Every page reads that account only; an invoice of any other account is
"not found". The pages exist only while the store enables My Credits.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from connector import audit
from connector.access.customer_links import (
    LinkRefused,
    grant_is_valid,
    read_token,
    redeem_sign_in,
    start_sign_in,
)
from connector.context import current, get_db, get_settings, now, public_base_url
from connector.credit.accounts import figures
from connector.credit.holders import list_holders, set_mail_preferences
from connector.credit.invoice_search import (
    InvoiceFilter,
    invoice_summary,
    sorted_invoice_select,
)
from connector.credit.models import Account, Holder, HolderLevel, Invoice, InvoiceStatus
from connector.errors import ConnectorError
from connector.notify.outbox import deliver_pending, queue_mail
from connector.web import i18n
from connector.web.auth import (
    check_csrf,
    customer_grant,
    sign_in_customer,
    sign_out_customer,
)
from connector.web.messages import error_message
from connector.web.pages import (
    overdue_due,
    parse_day,
    pix_for,
    refuse_unstorable,
    register_error_pages,
    render,
    secure_headers,
    statement_or_none,
    store_settings,
    store_today,
)

bp = Blueprint("mycredits", __name__, url_prefix="/mycredits")
register_error_pages(bp)


@bp.before_request
def _guard() -> None:
    if not store_settings().my_credits_enabled:
        abort(404)
    check_csrf()
    refuse_unstorable()


@bp.after_request
def _headers(response: WerkzeugResponse) -> WerkzeugResponse:
    response.headers["Referrer-Policy"] = "no-referrer"  # links carry tokens
    return secure_headers(response)


def _granted_account() -> str | None:
    """The account this browser may see, re-checked against the database."""
    grant = customer_grant()
    if grant is None:
        return None
    account_id, holder_id = grant["account"], grant.get("holder")
    if not get_db().run(lambda s: grant_is_valid(s, account_id, holder_id), read_only=True):
        sign_out_customer()
        return None
    return str(account_id)


def _refused(reason: str) -> tuple[str, int]:
    return render("mycredits/refused.html", 403, reason=i18n.gettext(reason))


@bp.get("/link/<token>")
def open_link(token: str) -> WerkzeugResponse | tuple[str, int]:
    """A link minted for the store: remembered in the session, then out of the address bar."""
    try:
        account_id = read_token(current().secret_key, token, now=now())
    except LinkRefused as refused:
        return _refused(str(refused))
    if not get_db().run(lambda s: grant_is_valid(s, account_id, None), read_only=True):
        return _refused("the link is not valid")
    sign_in_customer(account_id, None, "link")
    return redirect(url_for("mycredits.home"))


@bp.route("/signin", methods=["GET", "POST"])
def sign_in() -> tuple[str, int]:
    if request.method == "GET":
        return render("mycredits/signin.html", sent=False, email="")
    email = (request.form.get("email") or "").strip()[:254]
    if "@" not in email:
        error = i18n.gettext("Enter the e-mail address of your account.")
        return render("mycredits/signin.html", 400, sent=False, email=email, error=error)
    subject = i18n.gettext("Your link to My Credits")
    body = i18n.gettext(
        "Open this link to see your credit and invoices:\n\n{link}\n\n"
        "It works once, within {minutes} minutes. If you did not ask for it, ignore this mail."
    )
    moment = now()

    def send(session: Session) -> None:
        sign_in = start_sign_in(session, email, now=moment)
        if sign_in is None:
            return  # the same answer either way: the page never tells who has an account
        link = public_base_url() + url_for("mycredits.sign_in_token", token=sign_in.token)
        text = body.format(link=link, minutes=sign_in.minutes)
        queue_mail(session, to=sign_in.email, subject=subject, body=text, now=moment)

    get_db().run(send)
    deliver_pending(get_db(), get_settings().smtp_url)
    return render("mycredits/signin.html", sent=True, email=email)


@bp.get("/signin/<token>")
def sign_in_token(token: str) -> tuple[str, int]:
    """Ask for a click first: mail scanners that open links must not use up the link."""
    return render("mycredits/confirm.html", token=token)


@bp.post("/signin/<token>")
def redeem(token: str) -> WerkzeugResponse | tuple[str, int]:
    try:
        account_id, holder_id = get_db().run(lambda s: redeem_sign_in(s, token, now=now()))
    except LinkRefused as refused:
        return _refused(str(refused))
    sign_in_customer(account_id, holder_id, "email")
    return redirect(url_for("mycredits.home"))


@bp.post("/signout")
def sign_out() -> WerkzeugResponse:
    sign_out_customer()
    flash(i18n.gettext("You are signed out."), "info")
    return redirect(url_for("mycredits.sign_in"))


@bp.get("/")
def home() -> WerkzeugResponse | tuple[str, int]:
    account_id = _granted_account()
    if account_id is None:
        return redirect(url_for("mycredits.sign_in"))
    today = store_today()
    settings = store_settings()
    start = parse_day(request.args.get("from"))
    end = parse_day(request.args.get("to"), end=True)

    def load(session: Session) -> dict[str, Any]:
        account = session.get(Account, account_id)
        assert account is not None
        opened = InvoiceFilter(account_id=account_id, statuses=(InvoiceStatus.OPENED,))
        paid = InvoiceFilter(account_id=account_id, statuses=(InvoiceStatus.PAID,))
        return {
            "account": account,
            "holders": list_holders(session, account_id),
            "open_invoices": list(
                session.scalars(
                    sorted_invoice_select(opened, today, sort="due", direction="asc").limit(200)
                )
            ),
            "paid_invoices": list(
                session.scalars(
                    sorted_invoice_select(paid, today, sort="due", direction="desc").limit(50)
                )
            ),
            "summary": invoice_summary(session, opened, today),
            "overdue": overdue_due(session, account_id, settings, today),
            "statement": statement_or_none(session, account_id, start, end),
        }

    data = get_db().run(load)
    grant = customer_grant() or {}
    return render(
        "mycredits/home.html",
        settings=settings,
        figures=figures(data["account"], settings),
        period_from=request.args.get("from", ""),
        period_to=request.args.get("to", ""),
        via=grant.get("via"),
        signed_in=True,
        me=_me(data["holders"]),
        **data,
    )


def _me(holders: list[Holder]) -> Holder | None:
    """The person on the page: the holder who signed in by e-mail; the owner when a link
    the store minted for the account opened it."""
    wanted = (customer_grant() or {}).get("holder")
    for holder in holders:
        if (holder.id == wanted) if wanted else holder.level == HolderLevel.OWNER:
            return holder
    return None


@bp.post("/mail")
def mail_preferences() -> WerkzeugResponse:
    """The signed-in person's mails: their language (empty: the store's), or none."""
    account_id = _granted_account()
    if account_id is None:
        return redirect(url_for("mycredits.sign_in"))
    language = (request.form.get("language") or "").strip() or None
    opted_out = request.form.get("opted_out") == "1"

    def save(session: Session) -> None:
        me = _me(list_holders(session, account_id))
        if me is None:
            abort(404)
        set_mail_preferences(
            session, account_id, me.id, language=language, opted_out=opted_out, now=now()
        )

    try:
        with audit.acting_as(audit.CUSTOMER, account_id):
            get_db().run(save)
    except ConnectorError as error:
        flash(error_message(error), "error")
    else:
        flash(i18n.gettext("Your e-mail preferences are saved."), "success")
    return redirect(url_for("mycredits.home") + "#mail")


@bp.get("/invoices/<invoice_id>/pix")
def pix(invoice_id: str) -> WerkzeugResponse | tuple[str, int]:
    """An open invoice's Pix code and QR code, for its amount due today."""
    account_id = _granted_account()
    if account_id is None:
        return redirect(url_for("mycredits.sign_in"))
    invoice = get_db().run(lambda session: session.get(Invoice, invoice_id))
    if invoice is None or invoice.account_id != account_id:
        abort(404)
    code = pix_for(invoice)
    if code is None:
        abort(404)  # paid, cancelled, or the store takes no Pix
    return render("mycredits/pix.html", invoice=invoice, code=code, signed_in=True)


@bp.get("/invoices/<invoice_id>/pay")
def pay(invoice_id: str) -> WerkzeugResponse:
    """The Pay button: to the invoice's payment link, for the customer's own invoices only."""
    account_id = _granted_account()
    if account_id is None:
        return redirect(url_for("mycredits.sign_in"))

    def load(session: Session) -> Invoice | None:
        return session.get(Invoice, invoice_id)

    invoice = get_db().run(load)
    if (
        invoice is None
        or invoice.account_id != account_id
        or invoice.status != InvoiceStatus.OPENED
        or not invoice.payment_link
    ):
        abort(404)
    return redirect(invoice.payment_link, code=303)
