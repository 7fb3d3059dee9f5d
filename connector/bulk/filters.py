"""Which rows an export holds: the invoice search's filters and the account list's, read
from the names the API uses. The CLI's ``connector export`` and the API's export routes
(and the API's invoice search) read them here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

from marshmallow import RAISE, Schema, fields, validate

from connector.credit.account_search import ACCOUNT_STATUS_CHOICES, AccountFilter
from connector.credit.identity import normalize_document
from connector.credit.invoice_search import OVERDUE, InvoiceFilter
from connector.credit.invoices import parse_invoice_status
from connector.credit.settings import StoreSettings
from connector.wire import Cents, DayOrMoment, load

T = TypeVar("T")


class Strict(Schema):
    class Meta:
        unknown = RAISE


class Combine(Strict):
    op = fields.String(
        load_default="and",
        validate=validate.OneOf(["and", "or", "AND", "OR"]),
        metadata={"description": "combine the filters with and (all hold) or or (any holds)"},
    )


class InvoiceFilters(Combine):
    """The invoice search's filters."""

    createdDateFrom = DayOrMoment(
        metadata={
            "description": "ISO 8601 date-time, or a date: from its start in the store's time zone"
        }
    )
    createdDateTo = DayOrMoment(
        metadata={"description": "ISO 8601 date-time, or a date: the whole day is included"}
    )
    # The public reference spells these without the "d" in one place; accept both.
    createDateFrom = DayOrMoment(
        load_only=True, metadata={"description": "alias of createdDateFrom"}
    )
    createDateTo = DayOrMoment(load_only=True, metadata={"description": "alias of createdDateTo"})
    dueDateFrom = DayOrMoment(
        metadata={"description": "a date (a date-time counts as its date in the store's zone)"}
    )
    dueDateTo = DayOrMoment(metadata={"description": "a date, included"})
    value = Cents()
    status = fields.String(
        metadata={
            "description": "Opened (or Open), Paid, Cancelled or Overdue; "
            "several separated by commas"
        }
    )
    friendlyId = fields.String(validate=validate.Length(max=24))
    observation = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "matched as a case-insensitive substring"},
    )
    orderId = fields.String(validate=validate.Length(max=200))


class AllInvoiceFilters(InvoiceFilters):
    """The filters of a search over every account's invoices."""

    creditAccountId = fields.String(validate=validate.Length(min=1, max=120))


DELIMITER = fields.String(
    validate=validate.OneOf(["comma", "semicolon", "tab"]),
    metadata={"description": "comma (default; decimal points) or semicolon (decimal commas)"},
)
LANG = fields.String(
    load_default="en",
    validate=validate.OneOf(["en", "es", "pt"]),
    metadata={
        "description": "en (default): the technical format (ISO dates, decimal points, the "
        "API's words); es, pt: the spreadsheet's (headers with units and words of the "
        "language, dd/mm/yyyy dates, moments in the store's time zone, decimal commas, "
        "semicolons unless delimiter says otherwise)"
    },
)


class InvoiceExportQuery(AllInvoiceFilters):
    """The invoice search's filters (paging is ignored: an export has every row)."""

    delimiter = DELIMITER
    lang = LANG


class AccountExportQuery(Strict):
    status = fields.String(
        load_default="Open",
        validate=validate.OneOf(["Open", "Closed", "all", "open", "closed", "ALL"]),
        metadata={"description": "Open (default), Closed or all"},
    )
    email = fields.String(validate=validate.Length(max=254))
    document = fields.String(validate=validate.Length(max=64))
    delimiter = DELIMITER
    lang = LANG


def _statuses(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    names = [part.strip() for part in text.split(",") if part.strip()]
    return tuple(
        OVERDUE if name.lower() == "overdue" else parse_invoice_status(name) for name in names
    )


def _bound(value: date | datetime | None, place: Callable[[date | datetime], T]) -> T | None:
    return None if value is None else place(value)


def invoice_filter(
    q: Mapping[str, Any], account_id: str | None, settings: StoreSettings
) -> InvoiceFilter:
    """The filter of loaded invoice-search parameters, for one account or (None) every one;
    bare dates are the store's days."""
    return InvoiceFilter(
        account_id=account_id,
        statuses=_statuses(q.get("status")),
        created_from=_bound(
            q.get("createdDateFrom") or q.get("createDateFrom"), settings.first_moment
        ),
        created_to=_bound(q.get("createdDateTo") or q.get("createDateTo"), settings.last_moment),
        due_from=_bound(q.get("dueDateFrom"), settings.date_of),
        due_to=_bound(q.get("dueDateTo"), settings.date_of),
        value_cents=q.get("value"),
        friendly_id=q.get("friendlyId"),
        observation=q.get("observation"),
        order_id=q.get("orderId"),
        op=q["op"].lower(),
    )


def invoice_export_filter(params: Mapping[str, str], settings: StoreSettings) -> InvoiceFilter:
    """The invoices an export holds, from the invoice search's parameter names."""
    q = load(InvoiceExportQuery, dict(params), "filters")
    return invoice_filter(q, q.get("creditAccountId"), settings)


def account_export_filter(params: Mapping[str, str], _settings: StoreSettings) -> AccountFilter:
    """The accounts an export holds: ``status`` Open (default), Closed or all."""
    q = load(AccountExportQuery, dict(params), "filters")
    document = normalize_document(q["document"]) if q.get("document") else None
    return AccountFilter(
        email=q.get("email") or None,
        document=document,
        statuses=ACCOUNT_STATUS_CHOICES[q["status"].lower()],
    )
