"""Accounts: the list, a new account, the account page and its changes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any, Literal, TypeVar

from flask import flash, redirect, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from connector.access.principals import WRITE_CREDIT
from connector.context import get_db, now
from connector.credit import account_changes, holders
from connector.credit import accounts as account_service
from connector.credit.account_search import (
    ACCOUNT_STATUS_CHOICES,
    AccountFilter,
    count_rows,
    sorted_account_select,
)
from connector.credit.invoice_search import InvoiceFilter, invoice_summary, search_invoices
from connector.credit.models import Account
from connector.credit.reservations import latest_reservations
from connector.errors import Code, ConnectorError, NotFound
from connector.payments.history import payments_of
from connector.web import i18n
from connector.web.admin.audit import activity_for
from connector.web.admin.base import bp, charts_for, needs
from connector.web.auth import done_by
from connector.web.forms import Form, submit
from connector.web.messages import error_fields, error_message
from connector.web.pages import (
    overdue_due,
    page_from_request,
    parse_day,
    render,
    statement_or_none,
    store_settings,
    store_today,
    with_filters,
)

T = TypeVar("T")
_SORTS = ("created", "email", "limit", "available", "id")


@dataclass(frozen=True)
class AccountListArgs:
    """The accounts list's filters as the query string gives them (bad values ignored)."""

    search: str
    status: str
    overdue: bool

    @classmethod
    def from_request(cls) -> AccountListArgs:
        args = request.args
        status = str(args.get("status")) if args.get("status") in ACCOUNT_STATUS_CHOICES else "open"
        return cls((args.get("q") or "").strip(), status, args.get("overdue") == "1")

    def account_filter(self, today: date) -> AccountFilter:
        return AccountFilter(
            statuses=ACCOUNT_STATUS_CHOICES[self.status],
            search=self.search or None,
            overdue_on=today if self.overdue else None,
        )


def account_filter_from_request(today: date) -> AccountFilter:
    """The accounts the list shows (and its export holds), from the query string."""
    return AccountListArgs.from_request().account_filter(today)


@bp.get("/accounts")
def accounts() -> tuple[str, int]:
    args = request.args
    listed = AccountListArgs.from_request()
    sort = args.get("sort") if args.get("sort") in _SORTS else "created"
    direction: Literal["asc", "desc"] = "asc" if args.get("dir") == "asc" else "desc"
    query = sorted_account_select(
        listed.account_filter(store_today()),
        sort=sort,  # type: ignore[arg-type]
        direction=direction,
    )

    def load(session: Session) -> tuple[Any, list[Account]]:
        page = page_from_request(count_rows(session, query))
        rows = list(session.scalars(query.offset(page.offset).limit(page.size)))
        return page, rows

    page, rows = get_db().run(load)
    settings = store_settings()
    figures = {a.id: account_service.figures(a, settings) for a in rows}
    return render(
        "admin/accounts.html",
        rows=rows,
        figures=figures,
        page=page,
        search=listed.search,
        status=listed.status,
        overdue=listed.overdue,
        sort=sort,
        export_url=with_filters("admin.export_accounts"),
        direction=direction,
    )


_NEW_RENAMES = {"creditLimit": "creditLimit", "tolerance": "tolerance"}


@bp.route("/accounts/new", methods=["GET", "POST"])
@needs(WRITE_CREDIT)
def new_account() -> WerkzeugResponse | tuple[str, int]:
    if request.method == "GET":
        return render("admin/account_new.html", values={"documentType": "CPF"}, errors={})
    form = Form.from_request()
    email = form.text("email", required=True, max_length=254)
    document = form.text("document", max_length=64) or None
    document_type = form.text("documentType", max_length=16) or None
    company_name = form.text("companyName", max_length=200) or None
    limit = form.cents("creditLimit")
    tolerance = form.rate_bps("tolerance") or 0
    try:
        form.check()
        assert limit is not None
        account = get_db().run(
            lambda s: account_service.open_account(
                s,
                email=email,
                credit_limit_cents=limit,
                tolerance_bps=tolerance,
                document=document,
                document_type=document_type,
                company_name=company_name,
                done_by=done_by(),
                now=now(),
            )
        )
    except ConnectorError as error:
        return render(
            "admin/account_new.html",
            error.http_status,
            values=form.data,
            errors=error_fields(error, _NEW_RENAMES),
            error=error_message(error),
        )
    flash(i18n.gettext("Account {id} opened.", id=account.id), "success")
    return redirect(url_for("admin.account", account_id=account.id))


def _account_page(
    account_id: str,
    *,
    status: int = 200,
    form_name: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    error: str | None = None,
) -> tuple[str, int]:
    start = parse_day(request.args.get("from"))
    end = parse_day(request.args.get("to"), end=True)
    today = store_today()
    settings = store_settings()

    def load(session: Session) -> dict[str, Any]:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound(
                "account {account} not found", code=Code.ACCOUNT_NOT_FOUND, account=account_id
            )
        return {
            "account": account,
            "holders": holders.list_holders(session, account_id),
            "invoices": search_invoices(
                session, InvoiceFilter(account_id=account_id), today, limit=10
            ),
            "statement": statement_or_none(session, account_id, start, end),
            "summary": invoice_summary(session, InvoiceFilter(account_id=account_id), today),
            "purchases": (purchases := latest_reservations(session, account_id)),
            "purchase_payments": payments_of(session, {r.id for r in purchases}),
            "overdue": overdue_due(session, account_id, settings, today),
        }

    data = get_db().run(load)
    return render(
        "admin/account.html",
        status,
        settings=settings,
        figures=account_service.figures(data["account"], settings),
        period_from=request.args.get("from", ""),
        period_to=request.args.get("to", ""),
        form_name=form_name,
        errors=errors or {},
        values=values or {},
        error=error,
        **data,
        **charts_for(account_id, settings.currency),
        **activity_for(account_id=account_id),
    )


@bp.get("/accounts/<account_id>")
def account(account_id: str) -> tuple[str, int]:
    return _account_page(account_id)


def _back(account_id: str) -> WerkzeugResponse:
    return redirect(url_for("admin.account", account_id=account_id))


def _submit(
    account_id: str,
    form_name: str,
    work: Callable[[Session], T],
    done: Callable[[T], str],
    form: Form | None = None,
    renames: Mapping[str, str] | None = None,
) -> WerkzeugResponse | tuple[str, int]:
    """``submit`` on the account page."""
    page = partial(_account_page, account_id)
    return submit(page, lambda: _back(account_id), form_name, work, done, form, renames)


@bp.post("/accounts/<account_id>/credit")
@needs(WRITE_CREDIT)
def change_credit(account_id: str) -> WerkzeugResponse | tuple[str, int]:
    """Edit the credit limit and the tolerance (one transaction, one ``Credit`` entry)."""
    form = Form.from_request()
    limit = form.cents("creditLimit")
    tolerance = form.rate_bps("tolerance", required=True)
    return _submit(
        account_id,
        "credit",
        lambda s: account_changes.update_account(
            s,
            account_id,
            credit_limit_cents=limit,
            tolerance_bps=tolerance,
            done_by=done_by(),
            now=now(),
        ),
        lambda _account: i18n.gettext("Credit limit and tolerance saved."),
        form,
    )


@bp.post("/accounts/<account_id>/details")
@needs(WRITE_CREDIT)
def change_details(account_id: str) -> WerkzeugResponse | tuple[str, int]:
    """Edit the owner's e-mail, the company name and the document."""
    form = Form.from_request()
    email = form.text("email", required=True, max_length=254)
    company_name = form.text("companyName", max_length=200) or None
    document = form.text("document", max_length=64) or None
    document_type = (form.text("documentType", max_length=16) or None) if document else None
    return _submit(
        account_id,
        "details",
        lambda s: account_changes.update_account(
            s,
            account_id,
            email=email,
            document=document,
            document_type=document_type,
            company_name=company_name,
            done_by=done_by(),
            now=now(),
        ),
        lambda _account: i18n.gettext("Account details saved."),
        form,
    )


@bp.post("/accounts/<account_id>/holders")
@needs(WRITE_CREDIT)
def add_holder(account_id: str) -> WerkzeugResponse | tuple[str, int]:
    """A new dependent, by e-mail (the seeds' "Nuevo", then "Confirmar")."""
    form = Form.from_request()
    email = form.text("email", required=True, max_length=254)
    return _submit(
        account_id,
        "holder",
        lambda s: holders.add_holder(s, account_id, email, now=now()),
        lambda holder: i18n.gettext("Dependent {email} added.", email=holder.email),
        form,
        renames={"claims.email": "email"},
    )


@bp.post("/accounts/<account_id>/holders/<holder_id>/remove")
@needs(WRITE_CREDIT)
def remove_holder(account_id: str, holder_id: str) -> WerkzeugResponse | tuple[str, int]:
    return _submit(
        account_id,
        "holders",
        lambda s: holders.remove_holder(s, account_id, holder_id, now=now()),
        lambda holder: i18n.gettext("Dependent {email} removed.", email=holder.email),
    )


@bp.post("/accounts/<account_id>/holders/<holder_id>/mail")
@needs(WRITE_CREDIT)
def holder_mail(account_id: str, holder_id: str) -> WerkzeugResponse | tuple[str, int]:
    """A holder's mails: their language (empty: the store's) and whether they get any."""
    language = (request.form.get("language") or "").strip() or None
    opted_out = request.form.get("opted_out") == "1"
    return _submit(
        account_id,
        "holders",
        lambda s: holders.set_mail_preferences(
            s, account_id, holder_id, language=language, opted_out=opted_out, now=now()
        ),
        lambda holder: i18n.gettext("E-mails of {email} saved.", email=holder.email),
    )


@bp.post("/accounts/<account_id>/close")
@needs(WRITE_CREDIT)
def close_account(account_id: str) -> WerkzeugResponse | tuple[str, int]:
    force = request.form.get("force") == "1"
    if request.form.get("confirm") != "1":
        return _account_page(
            account_id,
            status=400,
            form_name="close",
            errors={"confirm": i18n.gettext("Tick the box to confirm.")},
            error=i18n.gettext("Please correct the fields marked below."),
        )
    return _submit(
        account_id,
        "close",
        lambda s: account_service.close_account(
            s, account_id, force=force, done_by=done_by(), now=now()
        ),
        lambda _account: i18n.gettext("Account closed."),
    )
