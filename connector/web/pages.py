"""What every page shares: templates' helpers, error pages, lists in pages, downloads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    g,
    has_request_context,
    make_response,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from connector import catalogs, pix
from connector.bulk.export import encoded
from connector.context import get_db, now
from connector.credit import rules
from connector.credit.charges import Quote, quote_invoice
from connector.credit.identity import DOCUMENT_TYPES, masked_document
from connector.credit.invoice_search import OVERDUE, InvoiceFilter, sorted_invoice_select
from connector.credit.models import Invoice, PaymentMethod
from connector.credit.pix_codes import PixCode, pix_code
from connector.credit.settings import StoreSettings, load_store_settings
from connector.credit.statements import Statement, account_statement
from connector.errors import N_, ConnectorError, ValidationError
from connector.web import i18n
from connector.web.auth import CSRF_FIELD, csrf_token, current_staff, safe_next
from connector.web.messages import error_message
from connector.wire import unstorable

PAGE_SIZE = 25

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/web-static",
)


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def secure_headers(response: WerkzeugResponse) -> WerkzeugResponse:
    """Pages with customers' figures: never cached, never framed, no script at all."""
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("Content-Security-Policy", _policy_with_logo())
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _policy_with_logo() -> str:
    """The policy, letting images load from the store's logo's origin too when this
    request showed it (its settings read; an https URL, checked when saved)."""
    settings = g.get("store_settings")
    if not has_request_context() or settings is None or not settings.store_logo_url:
        return CONTENT_SECURITY_POLICY
    parts = urlsplit(settings.store_logo_url)
    origin = f"https://{parts.netloc}"
    return CONTENT_SECURITY_POLICY.replace("img-src 'self' data:", f"img-src 'self' data: {origin}")


def brand() -> StoreSettings | None:
    """The store's settings for its name and logo in the page's header; None on a page
    about a failure (a 500), which must not depend on the database."""
    if g.get("failing"):
        return None
    return store_settings()


def init_templates(app: Flask) -> None:
    app.jinja_env.globals.update(
        _=i18n.gettext,
        ngettext=i18n.ngettext,
        pgettext=i18n.pgettext,
        figure=figure,
        csrf_token=csrf_token,
        csrf_field=CSRF_FIELD,
        languages=catalogs.LANGUAGES,
        current_language=i18n.current_language,
        day=day,
        moment=moment,
        overdue=overdue,
        quote=quote,
        pix_for=pix_for,
        qr_svg=qr_svg,
        store_today=store_today,
        store_settings=store_settings,
        brand=brand,
        payment_methods=payment_methods,
        percent_bps=i18n.percent_bps,
        plain_amount=i18n.plain_amount,
        percent_plain=i18n.percent_plain,
        number=i18n.number,
        url_with=url_with,
        current_staff=current_staff,
        money=money,
        masked_document=masked_document,
        document_types=list(DOCUMENT_TYPES.values()),
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True


@bp.get("/")
def root() -> WerkzeugResponse:
    return redirect("/admin/")


@bp.get("/language/<code>")
def choose_language(code: str) -> WerkzeugResponse:
    """The language switch: remembered in the session, then back to the page."""
    if code in catalogs.LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next"), "/admin/"))


def refuse_unstorable() -> None:
    """400 for a query, form field or path naming text no column can store (NUL...): the
    pages would otherwise search or save it and fail in the database."""
    values = [*request.args.values(), *(request.view_args or {}).values()]
    if request.method == "POST":
        values.extend(request.form.values())
    if any(unstorable(str(value)) for value in values):
        abort(400, description=N_("The request holds characters that cannot be stored."))


def url_with(**changes: Any) -> str:
    """The current page's URL with some query arguments changed (None removes one)."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = [str(value)]
    query = urlencode([(k, v) for k, values in args.items() for v in values])
    return request.path + ("?" + query if query else "")


# Query arguments that arrange a list rather than choose its rows.
_ARRANGING = ("page", "sort", "dir")


def with_filters(endpoint: str) -> str:
    """``endpoint``'s URL carrying the current list's filters (not its page or sort)."""
    args = [(k, v) for k, values in request.args.lists() if k not in _ARRANGING for v in values]
    query = urlencode(args)
    return url_for(endpoint) + ("?" + query if query else "")


def csv_download(pieces: Iterator[str], filename: str) -> Response:
    """A CSV file streamed as it is written (UTF-8 with a BOM, for spreadsheets)."""
    response = Response(stream_with_context(encoded(pieces)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


STATEMENT_PAGE_ENTRIES = 500


def statement_or_none(
    session: Session, account_id: str, start: datetime | None, end: datetime | None
) -> Statement | None:
    """A period's statement, newest first; None when the period holds too many entries
    to show (the page then asks for a shorter one rather than cutting it silently)."""
    try:
        return account_statement(
            session, account_id, start, end, max_entries=STATEMENT_PAGE_ENTRIES, newest_first=True
        )
    except ValidationError:
        return None


def store_settings() -> StoreSettings:
    """The store's settings, read once per request."""
    if "store_settings" not in g:
        g.store_settings = get_db().run(load_store_settings, read_only=True)
    settings: StoreSettings = g.store_settings
    return settings


def money(cents: int | None) -> str:
    """Cents in the store's currency, written the way the page's language writes money."""
    return i18n.money(cents, store_settings().currency)


# A figure of ten million units or more (``R$ 10.000.000,00``, 16 characters) is wider
# than a figure's box on a phone: it is shown short, the whole in its title.
COMPACT_FROM_CENTS = 10**9


def figure(cents: int | None) -> Markup:
    """A figure of the dashboard or a list's totals: the whole sum, or from
    ``COMPACT_FROM_CENTS`` on the locale's short form (``R$ 2,5 bi``) in an ``<abbr>``
    whose ``title`` is the whole sum."""
    whole = money(cents)
    if cents is None or abs(cents) < COMPACT_FROM_CENTS:
        return Markup("{}").format(whole)
    short = i18n.compact_money(cents, store_settings().currency)
    return Markup('<abbr class="compact" title="{0}">{1}</abbr>').format(whole, short)


def store_today() -> date:
    """The store's date now: what due dates are compared with."""
    return store_settings().today(now())


def day(value: date | datetime | None) -> str:
    """A date as the page's language writes it; a moment by its date in the store's zone."""
    if isinstance(value, datetime):
        value = value.astimezone(store_settings().zone()).date()
    return i18n.day(value)


def moment(value: datetime | None) -> str:
    """A UTC moment as the store's clock shows it, written the page's way."""
    return i18n.moment(value, store_settings().zone())


def overdue(invoice: Invoice) -> bool:
    """Whether the page shows an invoice as overdue: ``rules.is_overdue`` on the store's day."""
    return bool(rules.is_overdue(invoice.status, invoice.due_date, store_today()))


def quote(invoice: Invoice) -> Quote:
    """What an invoice asks for today (its value and late charges), for the pages."""
    return quote_invoice(invoice, store_settings(), store_today())


@dataclass(frozen=True)
class OverdueDue:
    """What an account's overdue invoices ask for today, and the late charges in it."""

    amount_due_cents: int
    charges_cents: int


def overdue_due(
    session: Session, account_id: str, settings: StoreSettings, today: date
) -> OverdueDue:
    """The overdue figure of an account's page and of My Credits: each overdue invoice's
    amount due (its value and late charges, ``charges.quote_invoice``), not its value."""
    overdue_only = InvoiceFilter(account_id=account_id, statuses=(OVERDUE,))
    quotes = [
        quote_invoice(invoice, settings, today)
        for invoice in session.scalars(sorted_invoice_select(overdue_only, today))
    ]
    return OverdueDue(
        sum(q.amount_due_cents for q in quotes), sum(q.charges.total_cents for q in quotes)
    )


def pix_for(invoice: Invoice) -> PixCode | None:
    """The Pix code paying an open invoice today, when the store takes Pix."""
    return pix_code(invoice, store_settings(), store_today())


def qr_svg(payload: str) -> Markup:
    """A QR code drawn inline (our own SVG, made by segno: safe to put in the page)."""
    return Markup(pix.qr_svg(payload, title=i18n.gettext("Pix QR code")))  # noqa: S704


def payment_methods() -> list[tuple[str, str]]:
    """The methods a payment may be recorded with, named in the page's language."""
    names = {
        PaymentMethod.PIX: i18n.gettext("Pix"),
        PaymentMethod.BOLETO: i18n.gettext("Boleto"),
        PaymentMethod.TRANSFER: i18n.gettext("Bank transfer"),
        PaymentMethod.OTHER: i18n.gettext("Other"),
    }
    return [(method.value, names[method]) for method in PaymentMethod]


def parse_date(raw: str | None) -> date | None:
    """``YYYY-MM-DD`` from a date input; None when empty or not a date."""
    if not raw:
        return None
    try:
        return datetime.strptime(raw.strip(), "%Y-%m-%d").date()
    except ValueError:
        return None


def parse_day(raw: str | None, *, end: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` from a date input as a moment: the store's day's start, or its end."""
    day = parse_date(raw)
    if day is None:
        return None
    settings = store_settings()
    return settings.last_moment(day) if end else settings.first_moment(day)


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first_row(self) -> int:
        return 0 if self.total == 0 else self.offset + 1

    @property
    def last_row(self) -> int:
        return min(self.total, self.offset + self.size)


def page_from_request(total: int, size: int = PAGE_SIZE) -> Page:
    raw = request.args.get("page", "1")
    number = int(raw) if raw.isdigit() and int(raw) > 0 else 1
    page = Page(number, size, total)
    return Page(min(number, page.pages), size, total)


def render(template: str, http_status: int = 200, /, **context: Any) -> tuple[str, int]:
    return render_template(template, **context), http_status


def register_error_pages(blueprint: Blueprint) -> None:
    """Errors become a page in the site's layout, never a stack trace or a JSON body."""

    @blueprint.errorhandler(ConnectorError)
    def _connector_error(error: ConnectorError) -> tuple[str, int]:
        return render("error.html", error.http_status, title=error_message(error), code=error.code)

    @blueprint.errorhandler(IntegrityError)
    def _integrity_error(_error: IntegrityError) -> tuple[str, int]:
        message = i18n.gettext("Someone changed this at the same time. Reload and try again.")
        return render("error.html", 409, title=message, code="conflict")

    @blueprint.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> WerkzeugResponse:
        return error_page(error)


def error_page(error: HTTPException) -> WerkzeugResponse:
    """Any URL's HTTP error as a page in the site's layout and the visitor's language: the
    admin's layout under ``/admin``, My Credits' elsewhere, and for a 500 always My
    Credits' (it reads no database, which may be what failed). A 500 says nothing of
    its cause: that is in the log."""
    status = error.code or 500
    titles = {
        400: i18n.gettext("The request could not be read."),
        403: i18n.gettext("You may not open this page."),
        404: i18n.gettext("Not found."),
        405: i18n.gettext("Not allowed."),
        413: i18n.gettext("The file or form is too large."),
        500: i18n.gettext("Something went wrong on our side. Try again in a moment."),
    }
    title = titles.get(status, error.name)
    detail = error.description if status == 400 else None
    if status >= 500:
        g.failing = True
    admin = request.path.startswith("/admin") or request.blueprint in ("admin", "consent")
    layout = "admin/layout.html" if admin and status < 500 else "mycredits/layout.html"
    home = "admin.dashboard" if admin else "mycredits.home"
    page = render_template(
        "error.html", title=title, detail=detail, code=str(status), layout=layout, home=home
    )
    response = secure_headers(make_response(page, status))
    return response


def not_found() -> None:
    abort(404)
