"""The API's request and response shapes, with the public Customer Credit API's names.

Requests are strict (``unknown = RAISE``) except for the fields the public API documents
and no longer uses, which are accepted and ignored. Responses are dumped through these
schemas too, and the OpenAPI document is generated from them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_dump,
    validate,
)

from connector.bulk.filters import AllInvoiceFilters, Combine, InvoiceFilters, Strict
from connector.bulk.templates import KINDS
from connector.credit.accounts import Figures
from connector.credit.identity import normalize_document, normalize_document_type, normalize_email
from connector.credit.models import Account
from connector.errors import ValidationError as ConnectorValidationError
from connector.money import bps_to_decimal, cents_to_decimal
from connector.wire import Cents, InvoiceStatusField, Moment, Rate, WholeNumber

MAX_PAGE = 1000
MAX_POSITION = 10**9  # keeps an offset inside every database's integers
DEFAULT_PAGE = 20


class Query(Strict):
    """Query parameters: an unknown one is an error, never silently ignored."""


class Body(Strict):
    """A JSON request body."""


# --- paging and search --------------------------------------------------------------


class Paging(Query):
    """``from``/``to``: 1-based positions, both included (``from=1&to=20`` is 20 rows).

    At most MAX_PAGE rows come back at once.
    """

    from_ = WholeNumber(
        data_key="from",
        load_default=1,
        validate=validate.Range(min=0, max=MAX_POSITION),
        metadata={"description": "position of the first row, from 1 (0 is read as 1)"},
    )
    to = WholeNumber(
        load_default=None,
        validate=validate.Range(min=1, max=MAX_POSITION),
        metadata={
            "description": f"position of the last row, included (default from + {DEFAULT_PAGE - 1})"
        },
    )


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


def page_of(data: dict[str, Any]) -> Page:
    """Rows ``from``..``to``; a page longer than MAX_PAGE rows is cut to MAX_PAGE, and a
    ``to`` before ``from`` is an empty page (``summary.count`` still tells the total)."""
    first = max(data.get("from_", 1), 1)
    last = data.get("to") or first + DEFAULT_PAGE - 1
    return Page(offset=first - 1, limit=max(0, min(last - first + 1, MAX_PAGE)))


class InvoiceQuery(Paging, InvoiceFilters):
    """One account's invoices, a page at a time."""


class GlobalInvoiceQuery(Paging, AllInvoiceFilters):
    """Every account's invoices, a page at a time."""


# --- bulk: templates, imports, exports -------------------------------------------------

DELIMITER = fields.String(
    validate=validate.OneOf(["comma", "semicolon", "tab"]),
    metadata={"description": "comma (default; decimal points) or semicolon (decimal commas)"},
)


class TemplateQuery(Query):
    lang = fields.String(load_default="en", validate=validate.OneOf(["en", "es", "pt"]))
    delimiter = DELIMITER


class ImportListQuery(Query):
    kind = fields.String(validate=validate.OneOf(KINDS))
    page = WholeNumber(load_default=1, validate=validate.Range(min=1, max=10**6))
    perPage = WholeNumber(load_default=50, validate=validate.Range(min=1, max=500))


class ReportQuery(Query):
    delimiter = DELIMITER


class UploadForm(Strict):
    file = fields.Raw(
        required=True, metadata={"type": "string", "format": "binary", "description": "the CSV"}
    )
    dryRun = fields.Boolean(
        load_default=False, metadata={"description": "validate every row, write nothing"}
    )


class AccountsUploadForm(UploadForm):
    mode = fields.String(required=True, validate=validate.OneOf(["create", "update"]))


class InvoicesUploadForm(UploadForm):
    mode = fields.String(load_default="update", validate=validate.OneOf(["update"]))


class ImportProgressOut(Schema):
    rowsDone = fields.Integer(required=True)
    rowsTotal = fields.Integer(required=True)
    percent = fields.Integer(required=True)


class ImportCountsOut(Schema):
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    failed = fields.Integer(required=True)


class ImportLinksOut(Schema):
    self = fields.String(required=True)
    errors = fields.String(required=True)


class ImportJobOut(Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True)
    mode = fields.String(required=True)
    dryRun = fields.Boolean(required=True)
    status = fields.String(
        required=True,
        metadata={"description": "queued, running, completed, failed or interrupted"},
    )
    source = fields.String(required=True)
    requestedBy = fields.String(allow_none=True)
    fileName = fields.String(allow_none=True)
    fileSize = fields.Integer(allow_none=True)
    fileSha256 = fields.String(allow_none=True)
    encoding = fields.String(allow_none=True)
    delimiter = fields.String(allow_none=True)
    ignoredColumns = fields.List(fields.String(), required=True)
    progress = fields.Nested(ImportProgressOut, required=True)
    counts = fields.Nested(ImportCountsOut, required=True)
    message = fields.String(allow_none=True)
    createdAt = Moment(required=True)
    startedAt = Moment(allow_none=True)
    finishedAt = Moment(allow_none=True)
    links = fields.Nested(ImportLinksOut, required=True)


class ImportPagingOut(Schema):
    page = fields.Integer(required=True)
    perPage = fields.Integer(required=True)
    total = fields.Integer(required=True)


class ImportPage(Schema):
    data = fields.List(fields.Nested(ImportJobOut), required=True)
    paging = fields.Nested(ImportPagingOut, required=True)


class AccountQuery(Paging, Combine):
    status = fields.String(
        validate=validate.OneOf(["Open", "Closed", "open", "closed"]),
        metadata={"description": "Open (default) or Closed"},
    )
    email = fields.String(validate=validate.Length(max=254))
    document = fields.String(validate=validate.Length(max=64))


class StatementQuery(Query):
    dateFrom = Moment(metadata={"description": "first moment of the period (default: opening)"})
    dateTo = Moment(
        end_of_day=True,
        metadata={"description": "last moment of the period, included (default: now)"},
    )


class CloseQuery(Query):
    force = fields.Boolean(
        load_default=False,
        metadata={"description": "close even with open invoices or reservations"},
    )


class PurchaseConditionsQuery(Query):
    email = fields.String(validate=validate.Length(max=254))
    document = fields.String(validate=validate.Length(max=64))
    documentType = fields.String(validate=validate.Length(max=16))


# --- accounts -----------------------------------------------------------------------


def _checked(normalize: Callable[[Any], Any]) -> Callable[[Any], None]:
    """A field validator that applies the credit service's own rule, so that every bad
    field is named in one answer (the service checks again when it runs)."""

    def check(value: Any) -> None:
        try:
            normalize(value)
        except ConnectorValidationError as exc:
            raise ValidationError(next(iter(exc.fields.values()), exc.message)) from exc

    return check


EMAIL = _checked(normalize_email)
DOCUMENT = _checked(normalize_document)
DOCUMENT_TYPE = _checked(lambda value: normalize_document_type(value, None))


class OpenAccountBody(Body):
    id = fields.String(metadata={"description": "default: {document}_{documentType}"})
    email = fields.String(required=True, validate=EMAIL)
    document = fields.String(allow_none=True, validate=DOCUMENT)
    documentType = fields.String(allow_none=True, validate=DOCUMENT_TYPE)
    creditLimit = Cents(required=True)
    tolerance = Rate(load_default=0)
    description = fields.Raw(
        load_only=True, metadata={"description": "deprecated by the public API; ignored"}
    )


class UpdateAccountBody(Body):
    email = fields.String(validate=EMAIL)
    document = fields.String(allow_none=True, validate=DOCUMENT)
    documentType = fields.String(allow_none=True, validate=DOCUMENT_TYPE)
    creditLimit = Cents()
    tolerance = Rate()
    description = fields.Raw(load_only=True, metadata={"description": "ignored"})


class CloseAccountBody(Body):
    """The public API documents these on close; they are accepted and not used."""

    document = fields.String(allow_none=True)
    documentType = fields.String(allow_none=True)
    email = fields.String(allow_none=True)


class ValueBody(Body):
    value = Cents(required=True)


class OptionalValueBody(Body):
    value = Cents(metadata={"description": "default: all of it"})


class ToleranceBody(Body):
    value = Rate(required=True)


class AdjustmentBody(Body):
    value = Cents(
        required=True,
        allow_negative=True,
        metadata={"description": "negative takes from the balance, positive adds to it"},
    )
    description = fields.String(validate=validate.Length(max=500))


class Claims(Body):
    email = fields.String(required=True, validate=EMAIL)


class HolderBody(Body):
    claims = fields.Nested(Claims, required=True)


@dataclass(frozen=True)
class AccountView:
    """An account with its figures, as one object to dump."""

    account: Account
    figures: Figures


class AccountOut(Schema):
    id = fields.String(attribute="account.id", required=True)
    email = fields.String(attribute="account.email", required=True)
    document = fields.String(attribute="account.document", allow_none=True)
    documentType = fields.String(attribute="account.document_type", allow_none=True)
    status = fields.String(attribute="account.status", required=True)
    creditLimit = Cents(attribute="figures.credit_limit_cents", required=True)
    tolerance = Rate(attribute="figures.tolerance_bps", required=True)
    balance = Cents(attribute="figures.balance_cents", required=True)
    preAuthorizedCredit = Cents(attribute="figures.reserved_cents", required=True)
    availableCredit = Cents(attribute="figures.available_cents", required=True)
    availableBalance = Cents(
        attribute="figures.available_cents",
        required=True,
        dump_only=True,
        metadata={"description": "the same as availableCredit"},
    )
    description = fields.Constant("", metadata={"description": "deprecated; always empty"})
    createdAt = Moment(attribute="account.created_at", required=True)
    updatedAt = Moment(attribute="account.updated_at", required=True)


class CountSummary(Schema):
    count = fields.Integer(required=True)


class AccountPage(Schema):
    data = fields.List(fields.Nested(AccountOut), required=True)
    summary = fields.Nested(CountSummary, required=True)


class StatementEntryOut(Schema):
    id = fields.String(required=True)
    value = Cents(attribute="value_cents", required=True)
    date = Moment(attribute="created_at", required=True)
    origin = fields.String(required=True)
    doneBy = fields.String(attribute="done_by")
    metadata = fields.Function(
        lambda entry: public_metadata(entry.origin, entry.details),
        metadata={"type": "object"},
    )

    @post_dump
    def _omit_empty(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Like the public API, leave out ``doneBy`` and ``metadata`` when there are none."""
        return {k: v for k, v in data.items() if v not in (None, {})}


def public_metadata(origin: str, details: dict[str, Any]) -> dict[str, Any]:
    """An entry's metadata with amounts in currency units, never in cents."""
    if origin == "Credit":
        out = dict(details)
        if "creditLimit" in out:
            out["creditLimit"] = cents_to_decimal(out["creditLimit"])
        if "toleranceBps" in out:
            out["tolerance"] = bps_to_decimal(out.pop("toleranceBps"))
        return out
    return details


class StatementOut(Schema):
    statements = fields.List(fields.Nested(StatementEntryOut), attribute="entries", required=True)
    previousBalance = Cents(attribute="previous_cents", required=True)
    intervalBalance = Cents(attribute="interval_cents", required=True)
    currentBalance = Cents(attribute="current_cents", required=True)


class AdjustmentOut(Schema):
    id = fields.String(required=True)
    value = fields.String(
        required=True, metadata={"description": "the amount as text, as the public API answers"}
    )


class HolderOut(Schema):
    id = fields.String(required=True)
    level = fields.Integer(required=True, metadata={"description": "1: owner, 2: dependent"})
    claims = fields.Function(
        lambda h: {"email": h.email}, required=True, metadata={"type": "object"}
    )
    createdAt = Moment(attribute="created_at", required=True)


class HolderPage(Schema):
    data = fields.List(fields.Nested(HolderOut), required=True)
    summary = fields.Nested(CountSummary, required=True)


class IdOut(Schema):
    id = fields.String(required=True)


class MyCreditsLinkBody(Body):
    """How long the link stays valid, in seconds (default 24 hours, at most 30 days)."""

    expiresIn = WholeNumber(
        load_default=24 * 3600, validate=validate.Range(min=60, max=30 * 24 * 3600)
    )


class MyCreditsLinkOut(Schema):
    url = fields.String(required=True)
    expiresAt = Moment(required=True)


# --- invoices -----------------------------------------------------------------------


class InvoiceOut(Schema):
    id = fields.String(required=True)
    friendlyId = fields.String(attribute="friendly_id", required=True)
    status = fields.String(required=True, metadata={"enum": ["Opened", "Paid", "Cancelled"]})
    value = Cents(attribute="value_cents", required=True)
    creditValue = fields.Function(
        lambda i: cents_to_decimal(i.original_value_cents - i.value_cents),
        required=True,
        metadata={
            "type": "number",
            "description": "how much refunds and order changes took off the invoice",
        },
    )
    accountId = fields.String(attribute="account_id", required=True)
    creditAccountId = fields.String(attribute="account_id", required=True, dump_only=True)
    transactionId = fields.String(attribute="reservation_id", required=True)
    orderId = fields.String(attribute="order_id", allow_none=True)
    installment = fields.Integer(required=True)
    numberOfInstallments = fields.Integer(attribute="number_of_installments", required=True)
    createdAt = Moment(attribute="created_at", required=True)
    updatedAt = Moment(attribute="updated_at", required=True)
    resolvedAt = Moment(attribute="resolved_at", allow_none=True)
    originalDueDate = Moment(attribute="original_due_date", required=True)
    dueDate = Moment(attribute="due_date", required=True)
    paymentLink = fields.String(attribute="payment_link", allow_none=True)
    observation = fields.String(allow_none=True)


class InvoiceSummaryOut(Schema):
    total = Cents(attribute="opened_cents", required=True, metadata={"description": "open"})
    count = fields.Integer(required=True)
    totalPaid = Cents(attribute="paid_cents", required=True)
    totalCancelled = Cents(attribute="cancelled_cents", required=True)


class InvoicePage(Schema):
    data = fields.List(fields.Nested(InvoiceOut), required=True)
    summary = fields.Nested(InvoiceSummaryOut, required=True)


class ChangeInvoiceBody(Body):
    status = InvoiceStatusField()
    observation = fields.String(allow_none=True)
    paymentLink = fields.String(allow_none=True)


class PostponeBody(Body):
    dueDays = WholeNumber(required=True, validate=validate.Range(min=1, max=3650))


# --- transactions -------------------------------------------------------------------


class ReserveBody(Body):
    value = Cents(required=True)
    settle = fields.Boolean(
        load_default=True,
        metadata={"description": "false: a hold that is never settled automatically"},
    )
    installments = WholeNumber(load_default=1, validate=validate.Range(min=0, max=48))
    expirationDate = Moment(metadata={"description": "when the hold is released if unsettled"})


class TransactionOut(Schema):
    id = fields.String(required=True)
    value = Cents(attribute="value_cents", required=True)
    installments = fields.Integer(required=True)
    expirationDate = Moment(attribute="expires_at")

    @post_dump
    def _omit_no_expiration(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if data.get("expirationDate") is None:
            data.pop("expirationDate", None)
        return data


class SettlementOut(Schema):
    id = fields.String(required=True)
    value = Cents(required=True, metadata={"description": "the purchase's settled total"})
    invoices = fields.List(
        fields.String(), required=True, metadata={"description": "invoices this call issued"}
    )


class RefundOut(Schema):
    value = Cents(required=True, metadata={"description": "the amount this call refunded"})


# --- store settings and purchase conditions ----------------------------------------


class ReminderDoc(Schema):
    days = fields.Integer(required=True)
    timeOfDay = fields.String(required=True, metadata={"description": "HH:MM (HH:MM:00 accepted)"})


class NotificationsDoc(Schema):
    daysPrior = fields.List(fields.Nested(ReminderDoc))
    daysAfter = fields.List(fields.Nested(ReminderDoc))


class StoreConfigDoc(Schema):
    """The store settings; on PUT every field is optional and merged into the current ones."""

    currency = fields.String()
    toleranceEnabled = fields.Boolean()
    automaticCheckingAccountCreationEnabled = fields.Boolean()
    defaultCreditValue = fields.Decimal(as_string=False)
    postponementEnabled = fields.Boolean()
    invoicePostponementLimit = fields.Integer()
    maxPostponementDays = fields.Integer()
    maxPreAuthorizationGrowthRate = fields.Decimal(as_string=False)
    myCreditsEnabled = fields.Boolean()
    dailyInterestRate = fields.Decimal(as_string=False)
    taxRate = fields.Decimal(as_string=False)
    notificationsSettings = fields.Nested(NotificationsDoc)
    paymentTerms = fields.List(fields.List(fields.Integer()))
    autoSettleBusinessDays = fields.Integer()
    holidayCalendar = fields.String(allow_none=True)
    paymentInstructions = fields.String()
    overLimitReviewEnabled = fields.Boolean()


class PlanOut(Schema):
    installments = fields.Function(
        lambda plan: len(plan), required=True, metadata={"type": "integer"}
    )
    dueDays = fields.Function(
        lambda plan: list(plan),
        required=True,
        metadata={"type": "array", "items": {"type": "integer"}},
    )


class PurchaseConditionsOut(Schema):
    accountId = fields.String(
        attribute="account_id",
        allow_none=True,
        required=True,
        metadata={"description": "null: the store opens an account at the first purchase"},
    )
    currency = fields.String(required=True)
    creditLimit = Cents(attribute="credit_limit_cents", required=True)
    availableCredit = Cents(attribute="available_cents", required=True)
    toleranceEnabled = fields.Boolean(attribute="tolerance_enabled", required=True)
    toleranceHeadroom = Cents(
        attribute="tolerance_headroom_cents",
        metadata={"description": "how far above availableCredit a purchase may go (0 when off)"},
    )
    maxPurchaseValue = Cents(
        attribute="spending_power_cents",
        required=True,
        metadata={"description": "the largest purchase approved now"},
    )
    paymentTerms = fields.List(fields.Nested(PlanOut), attribute="payment_terms", required=True)


class ErrorBody(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "each bad field and why"},
    )


class ErrorOut(Schema):
    error = fields.Nested(ErrorBody, required=True)
