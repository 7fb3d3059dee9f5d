"""The over-limit review queue: purchases above the credit waiting for staff to decide."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from connector.access.principals import WRITE_CREDIT
from connector.context import get_db, now
from connector.credit.accounts import figures
from connector.credit.models import Account
from connector.errors import ConnectorError
from connector.payments.models import Payment
from connector.payments.reviews import (
    approve_review,
    deny_review,
    list_decided_reviews,
    list_reviews,
)
from connector.web import i18n
from connector.web.admin.base import bp, needs
from connector.web.auth import done_by
from connector.web.messages import error_message
from connector.web.pages import render, store_settings


def _reviews_page(status: int = 200, error: str | None = None) -> tuple[str, int]:
    def load(session: Session) -> dict[str, Any]:
        pending = list_reviews(session)
        decided = list_decided_reviews(session)
        reviews = pending + decided
        payments = {
            p.payment_id: p
            for p in session.scalars(
                select(Payment).where(Payment.payment_id.in_({r.payment_id for r in reviews}))
            )
        }
        accounts = {
            a.id: a
            for a in session.scalars(
                select(Account).where(Account.id.in_({r.account_id for r in reviews}))
            )
        }
        return {"pending": pending, "decided": decided, "payments": payments, "accounts": accounts}

    data = get_db().run(load)
    settings = store_settings()
    available = {
        account_id: figures(account, settings).spending_power_cents
        for account_id, account in data["accounts"].items()
    }
    return render(
        "admin/reviews.html", status, settings=settings, available=available, error=error, **data
    )


@bp.get("/reviews")
def reviews() -> tuple[str, int]:
    return _reviews_page()


def _decide(review_id: str, approve: bool) -> WerkzeugResponse | tuple[str, int]:
    note = (request.form.get("note") or "").strip() or None
    decide = approve_review if approve else deny_review
    try:
        get_db().run(lambda s: decide(s, review_id, done_by=done_by(), note=note, now=now()))
    except ConnectorError as error:
        return _reviews_page(error.http_status, error_message(error))
    if approve:
        flash(i18n.gettext("Purchase approved; the gateway is being told."), "success")
    else:
        flash(i18n.gettext("Purchase denied; the gateway is being told."), "success")
    return redirect(url_for("admin.reviews"))


@bp.post("/reviews/<review_id>/approve")
@needs(WRITE_CREDIT)
def approve(review_id: str) -> WerkzeugResponse | tuple[str, int]:
    return _decide(review_id, True)


@bp.post("/reviews/<review_id>/deny")
@needs(WRITE_CREDIT)
def deny(review_id: str) -> WerkzeugResponse | tuple[str, int]:
    return _decide(review_id, False)
