"""The admin's blueprint, its guard, sign-in and the dashboard; the sections are the
package's other modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, flash, g, redirect, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from connector import audit
from connector.access.principals import WRITE_ADMIN
from connector.access.users import authenticate, require
from connector.bulk.uploads import MAX_UPLOAD_BYTES
from connector.context import get_db, now
from connector.credit.dashboard import (
    AgingBucket,
    StoreTotals,
    UsePoint,
    credit_use_series,
    invoice_aging,
    store_totals,
)
from connector.payments.reviews import list_reviews
from connector.web import i18n
from connector.web.auth import (
    check_csrf,
    current_staff,
    hold_second_step,
    safe_next,
    sign_in_staff,
    sign_out,
    staff_required,
)
from connector.web.charts import aging_chart, use_chart
from connector.web.pages import (
    refuse_unstorable,
    register_error_pages,
    render,
    secure_headers,
    store_settings,
    store_today,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")
register_error_pages(bp)

# The sign-in's second step and the set-password page are for people not signed in yet.
_PUBLIC = {"admin.login", "admin.login_code", "admin.set_password"}
# The permission each form needs (``needs``); a form not listed needs WRITE_ADMIN, so a new
# form nobody classified is an admin's alone rather than open to every role.
_NEEDS: dict[str, str] = {"admin.logout": ""}

View = TypeVar("View", bound=Callable[..., Any])


def needs(permission: str) -> Callable[[View], View]:
    """Declare the permission a form's POST needs; put it below ``@bp.post``'s line."""

    def declare(view: View) -> View:
        _NEEDS[f"{bp.name}.{view.__name__}"] = permission
        return view

    return declare


def may(permission: str) -> bool:
    """Whether the signed-in staff user's role grants this (pages hide what it does not)."""
    staff = current_staff()
    return staff is not None and staff.may(permission)


@bp.before_request
def _guard() -> WerkzeugResponse | None:
    if request.endpoint == "admin.bulk_upload" and current_staff() is not None:
        # A spreadsheet may exceed the app's request limit; raised before the CSRF check
        # reads the body, and only for signed-in staff.
        request.max_content_length = MAX_UPLOAD_BYTES
    check_csrf()
    refuse_unstorable()
    if request.endpoint in _PUBLIC:
        return None
    signed_out = staff_required()
    if signed_out is None and request.method == "POST":
        permission = _NEEDS.get(request.endpoint or "", WRITE_ADMIN)
        staff = current_staff()
        assert staff is not None
        if permission:
            require(staff, permission)
        g.audit_token = audit.act(audit.STAFF, staff.email)
    return signed_out


@bp.teardown_request
def _forget_actor(_error: BaseException | None) -> None:
    token = g.pop("audit_token", None)
    if token is not None:
        audit.stop_acting(token)


@bp.context_processor
def _permissions() -> dict[str, Any]:
    return {"may": may}


bp.after_request(secure_headers)


@bp.route("/login", methods=["GET", "POST"])
def login() -> WerkzeugResponse | tuple[str, int]:
    target = safe_next(request.values.get("next"), url_for("admin.dashboard"))
    if request.method == "GET":
        if current_staff() is not None:
            return redirect(target)
        return render("admin/login.html", next=target, email="")
    email = (request.form.get("email") or "").strip()
    password = request.form.get("password") or ""
    user = get_db().run(lambda s: authenticate(s, email, password))
    if user is None:
        error = i18n.gettext("Wrong e-mail or password.")
        return render("admin/login.html", 401, next=target, email=email, error=error)
    if user.has_second_factor:
        hold_second_step(user, target)
        return redirect(url_for("admin.login_code"))
    sign_in_staff(user)
    return redirect(target)


@bp.post("/logout")
def logout() -> WerkzeugResponse:
    sign_out()
    flash(i18n.gettext("You are signed out."), "info")
    return redirect(url_for("admin.login"))


def aging_labels() -> list[str]:
    return [
        i18n.gettext("Not yet due"),
        i18n.gettext("1-30 days"),
        i18n.gettext("31-60 days"),
        i18n.gettext("61-90 days"),
        i18n.gettext("Over 90 days"),
    ]


CHART_COMPACT_FROM_CENTS = 10**8


def charts_for(account_id: str | None, currency: str) -> dict[str, Any]:
    """The aging bars and the credit-use line of the store or of one account."""
    moment = now()
    today = store_today()

    def load(session: Session) -> tuple[list[AgingBucket], list[UsePoint]]:
        return (
            invoice_aging(session, today, account_id=account_id),
            credit_use_series(session, moment, account_id=account_id),
        )

    aging, series = get_db().run(load, read_only=True)
    zone = store_settings().zone()

    def money(cents: int) -> str:
        # A chart's labels have a fixed width: from a million on, the short form (the
        # whole figures are in the table beside the chart).
        if abs(cents) >= CHART_COMPACT_FROM_CENTS:
            return i18n.compact_money(cents, currency)
        return i18n.money(cents, currency)

    labels = aging_labels()
    return {
        "aging": list(zip(labels, aging, strict=True)),
        "aging_chart": aging_chart(
            aging,
            labels,
            money,
            i18n.gettext("Open invoices by age (days overdue)"),
            i18n.gettext("No open invoices: nothing to chart."),
        ),
        "use_chart": use_chart(
            series,
            money,
            lambda point: i18n.day(point.at.astimezone(zone)),
            i18n.gettext("Credit in use over the last 90 days"),
            i18n.gettext("In use"),
            i18n.gettext("Credit limit"),
            i18n.gettext("No credit in use nor granted in the last 90 days: nothing to chart."),
        ),
    }


@bp.get("/")
def dashboard() -> tuple[str, int]:
    settings = store_settings()
    today = store_today()

    def load(session: Session) -> tuple[StoreTotals, int]:
        return store_totals(session, today), len(list_reviews(session))

    totals, pending_reviews = get_db().run(load, read_only=True)
    return render(
        "admin/dashboard.html",
        settings=settings,
        totals=totals,
        pending_reviews=pending_reviews,
        money=lambda cents: i18n.money(cents, settings.currency),
        **charts_for(None, settings.currency),
    )
