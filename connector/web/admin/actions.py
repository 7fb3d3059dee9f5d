"""Actions the API has, on the admin's pages: a manual adjustment, refunding a settled
purchase and cancelling a pre-authorization.

Each form is posted twice: first it is checked and rehearsed (the same service call, in a
transaction that is rolled back) and a confirmation page shows the amount and its effect
on the available credit; then, confirmed, it is booked. The services are the API's
(``adjust_balance``, ``refund_reservation``, ``release_reservation``), so every credit
rule stays in ``connector.credit``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from babel.numbers import format_decimal
from flask import redirect, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from connector.access.principals import WRITE_CREDIT
from connector.context import get_db, now
from connector.credit.accounts import Figures, figures
from connector.credit.models import Account
from connector.credit.reservations import release_reservation
from connector.credit.settlements import refund_reservation, refundable_cents
from connector.credit.statements import adjust_balance
from connector.errors import Code, ConnectorError, NotFound
from connector.ids import new_id
from connector.web import i18n
from connector.web.admin.accounts import _account_page
from connector.web.admin.base import bp, needs
from connector.web.admin.payments import payment_page
from connector.web.auth import done_by, safe_next
from connector.web.forms import Form, submit
from connector.web.messages import error_fields, error_message
from connector.web.pages import render, store_settings

CREDIT, DEBIT = "credit", "debit"
_REASON_MAX = 500  # the statement's description: what staff need to say why


@dataclass(frozen=True)
class Effect:
    """What an action would do: the account's figures before and after, and its amount."""

    before: Figures
    after: Figures
    amount_cents: int


class _Rehearsed(Exception):
    """Carries a rehearsal's effect out of the transaction it rolls back."""

    def __init__(self, effect: Effect) -> None:
        super().__init__("rehearsed")
        self.effect = effect


def rehearse(account_id: str, work: Callable[[Session], int]) -> Effect:
    """Run ``work`` (returning the cents it moves) and roll it back: the confirmation shows
    exactly what the service would book, refusals included, with no second copy of a rule."""
    settings = store_settings()

    def trial(session: Session) -> None:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound(
                "account {account} not found", code=Code.ACCOUNT_NOT_FOUND, account=account_id
            )
        before = figures(account, settings)
        amount = work(session)
        session.flush()
        raise _Rehearsed(Effect(before, figures(account, settings), amount))

    try:
        get_db().run(trial)
    except _Rehearsed as done:
        return done.effect
    raise AssertionError("a rehearsal always ends in _Rehearsed")


def _amount(form: Form, name: str, *, required: bool) -> int | None:
    """An amount typed the page's way (``1.234,56`` in es and pt), in cents, above zero."""
    cents = form.cents(name, required=required)
    if name in form.errors and (form.data.get(name) or "").strip():
        example = amount_text(123456)
        form.errors[name] = i18n.gettext("Enter an amount such as {example}.", example=example)
    elif cents == 0:
        form.errors[name] = i18n.gettext("Enter an amount above zero.")
        return None
    return cents


def _origin_page(account_id: str) -> Callable[..., tuple[str, int]]:
    """Where the form was: the payment's page when it says so, else the account's."""
    payment_id = (request.form.get("payment") or "").strip()
    if payment_id:
        return partial(payment_page, payment_id)
    return partial(_account_page, account_id)


def _back(account_id: str, anchor: str) -> WerkzeugResponse:
    payment_id = (request.form.get("payment") or "").strip()
    if payment_id:
        return redirect(url_for("admin.payment", payment_id=payment_id))
    return redirect(url_for("admin.account", account_id=account_id) + anchor)


def _confirmed() -> bool:
    return request.form.get("confirmed") == "1"


def _act(
    account_id: str,
    form_name: str,
    form: Form,
    work: Callable[[Session], int],
    confirm: Callable[[Effect], dict[str, Any]],
    done: Callable[[int], str],
    anchor: str = "#purchases",
) -> WerkzeugResponse | tuple[str, int]:
    """Check the form; unconfirmed, rehearse it and ask; confirmed, book it and go back."""
    page = _origin_page(account_id)
    if _confirmed():
        return submit(page, lambda: _back(account_id, anchor), form_name, work, done, form)
    try:
        form.check()
        effect = rehearse(account_id, work)
    except ConnectorError as error:
        return page(
            status=error.http_status,
            form_name=form_name,
            errors=error_fields(error, {"value": "amount", "description": "reason"}),
            values=dict(form.data),
            error=error_message(error),
        )
    fields = {k: v for k, v in form.data.items() if k != "confirmed"}
    back = (
        url_for("admin.payment", payment_id=fields["payment"])
        if fields.get("payment")
        else url_for("admin.account", account_id=account_id)
    )
    return render(
        "admin/confirm.html",
        effect=effect,
        fields=fields,
        action=request.path,
        back=safe_next(back, url_for("admin.dashboard")),
        account_id=account_id,
        **confirm(effect),
    )


@bp.post("/accounts/<account_id>/adjustments")
@needs(WRITE_CREDIT)
def adjust(account_id: str) -> WerkzeugResponse | tuple[str, int]:
    """A manual statement entry: a credit adds to the available credit, a debit takes."""
    form = Form.from_request()
    kind = form.data.get("kind")
    if kind not in (CREDIT, DEBIT):
        form.errors["kind"] = i18n.gettext("Choose credit or debit.")
    cents = _amount(form, "amount", required=True)
    reason = form.text("reason", required=True, max_length=_REASON_MAX)
    # The statement id is the API's idempotency key: minted once for the confirmation, so a
    # second click on "Confirm" books nothing twice.
    statement_id = form.data.get("statement") or new_id()
    form = Form({**form.data, "statement": statement_id}, form.errors)
    value = (cents or 0) if kind == CREDIT else -(cents or 0)

    def work(session: Session) -> int:
        entry = adjust_balance(
            session,
            account_id,
            value,
            entry_id=statement_id,
            description=reason,
            done_by=done_by(),
            now=now(),
        )
        return entry.value_cents

    def confirm(_effect: Effect) -> dict[str, Any]:
        title = (
            i18n.gettext("Confirm the credit adjustment")
            if kind == CREDIT
            else i18n.gettext("Confirm the debit adjustment")
        )
        return {"title": title, "what": "adjustment", "reason": reason, "danger": kind == DEBIT}

    def done(value_cents: int) -> str:
        return i18n.gettext(
            "Adjustment of {amount} booked.", amount=i18n.money(value_cents, _currency())
        )

    return _act(account_id, "adjust", form, work, confirm, done, "#statements")


@bp.post("/accounts/<account_id>/purchases/<reservation_id>/refund")
@needs(WRITE_CREDIT)
def refund(account_id: str, reservation_id: str) -> WerkzeugResponse | tuple[str, int]:
    """Refund a settled purchase: the amount typed, or (empty) all that is left."""
    form = Form.from_request()
    cents = _amount(form, "amount", required=False)

    def work(session: Session) -> int:
        return refund_reservation(
            session,
            reservation_id,
            cents,
            account_id=account_id,
            done_by=done_by(),
            now=now(),
        ).refunded_cents

    def confirm(_effect: Effect) -> dict[str, Any]:
        return {
            "title": i18n.gettext("Confirm the refund"),
            "what": "refund",
            "reservation_id": reservation_id,
            "danger": True,
        }

    def done(refunded: int) -> str:
        return i18n.gettext("Refund of {amount} booked.", amount=i18n.money(refunded, _currency()))

    return _act(account_id, "purchases", form, work, confirm, done)


@bp.post("/accounts/<account_id>/purchases/<reservation_id>/cancel")
@needs(WRITE_CREDIT)
def cancel_purchase(account_id: str, reservation_id: str) -> WerkzeugResponse | tuple[str, int]:
    """Cancel a pre-authorization: the credit it holds is released (the API's DELETE)."""
    form = Form.from_request()

    def work(session: Session) -> int:
        release_reservation(session, reservation_id, account_id=account_id, now=now())
        return 0  # what it gave back is the fall of the reserved figure, shown as such

    def confirm(_effect: Effect) -> dict[str, Any]:
        return {
            "title": i18n.gettext("Confirm the cancellation"),
            "what": "cancel",
            "reservation_id": reservation_id,
            "danger": True,
        }

    def done(_held: int) -> str:
        return i18n.gettext("Pre-authorization cancelled; its credit is available again.")

    return _act(account_id, "purchases", form, work, confirm, done)


@bp.context_processor
def _purchase_rules() -> dict[str, Any]:
    """What the purchase rows ask the credit rules: how much a refund may still give back."""
    return {"refundable_cents": refundable_cents, "amount_text": amount_text}


def amount_text(cents: int) -> str:
    """Cents as the page's language types an amount (``1.234,56`` in es and pt)."""
    return format_decimal(Decimal(cents) / 100, format="#,##0.00", locale=i18n.locale())


def _currency() -> str:
    return store_settings().currency
