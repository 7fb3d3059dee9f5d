"""The accounts' shapes: search, open, change, statements, holders, My Credits links."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_dump, validate

from connector.api.schemas.common import Body, CountSummary, Paging, Query
from connector.bulk.filters import Combine
from connector.credit.accounts import Figures
from connector.credit.identity import (
    DOCUMENT_TYPES,
    normalize_company_name,
    normalize_document,
    normalize_document_type,
    normalize_email,
)
from connector.credit.models import Account, AccountStatus, Origin
from connector.errors import ValidationError as ConnectorValidationError
from connector.money import bps_to_decimal, cents_to_decimal
from connector.wire import Cents, DayOrMoment, Moment, Rate, WholeNumber

# The public document's words for an account's two states: its text says Open, Closed or
# Cancelled, its schema the invoices' Opened (README: "Where VTEX's documents contradict
# themselves"), capitalized or in lower case.
ACCOUNT_STATUS_WORDS = {
    "open": AccountStatus.OPEN,
    "opened": AccountStatus.OPEN,
    "closed": AccountStatus.CLOSED,
    "cancelled": AccountStatus.CLOSED,
}


class AccountQuery(Paging, Combine):
    status = fields.String(
        validate=validate.OneOf([w for word in ACCOUNT_STATUS_WORDS for w in (word.title(), word)]),
        metadata={"description": "Open (default; also Opened) or Closed (also Cancelled)"},
    )
    email = fields.String(validate=validate.Length(max=254))
    document = fields.String(validate=validate.Length(max=64))
    companyName = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "part of the company name, in any case (our extension)"},
    )


class StatementQuery(Query):
    dateFrom = DayOrMoment(
        metadata={"description": "first moment or day of the period (default: opening)"}
    )
    dateTo = DayOrMoment(
        metadata={"description": "last moment or day of the period, included (default: now)"}
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
COMPANY_NAME = _checked(normalize_company_name)
COMPANY_NAME_TEXT = (
    "the company's registered name (razão social, razón social); our extension: the public "
    "API has no such field"
)


TOLERANCE = (
    "how far above the credit limit a purchase may go when the store enables tolerance, up to 100%"
)


class OpenAccountBody(Body):
    id = fields.String(metadata={"description": "default: {document}_{documentType}"})
    email = fields.String(required=True, validate=EMAIL)
    document = fields.String(allow_none=True, validate=DOCUMENT)
    documentType = fields.String(allow_none=True, validate=DOCUMENT_TYPE)
    companyName = fields.String(
        allow_none=True, validate=COMPANY_NAME, metadata={"description": COMPANY_NAME_TEXT}
    )
    creditLimit = Cents(required=True)
    tolerance = Rate(load_default=0, description=TOLERANCE)
    description = fields.Raw(
        load_only=True, metadata={"description": "deprecated by the public API; ignored"}
    )


class UpdateAccountBody(Body):
    email = fields.String(validate=EMAIL)
    document = fields.String(allow_none=True, validate=DOCUMENT)
    documentType = fields.String(allow_none=True, validate=DOCUMENT_TYPE)
    companyName = fields.String(
        allow_none=True, validate=COMPANY_NAME, metadata={"description": COMPANY_NAME_TEXT}
    )
    creditLimit = Cents()
    tolerance = Rate(description=TOLERANCE)
    description = fields.Raw(load_only=True, metadata={"description": "ignored"})


class CloseAccountBody(Body):
    """The public API documents these on close; they are accepted and not used."""

    document = fields.String(allow_none=True)
    documentType = fields.String(allow_none=True)
    email = fields.String(allow_none=True)


class ValueBody(Body):
    value = Cents(required=True)


class ToleranceBody(Body):
    value = Rate(required=True, description=TOLERANCE)


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
    # The public API requires both as text: an account opened without a document answers
    # an empty one, of type Other.
    document = fields.Function(
        lambda view: view.account.document or "",
        required=True,
        metadata={"type": "string", "description": "empty when the account has none"},
    )
    documentType = fields.Function(
        lambda view: view.account.document_type or "Other",
        required=True,
        metadata={"type": "string", "enum": list(DOCUMENT_TYPES.values())},
    )
    companyName = fields.Function(
        lambda view: view.account.company_name,
        metadata={"type": "string", "nullable": True, "description": COMPANY_NAME_TEXT},
    )
    status = fields.String(attribute="account.status", required=True)
    creditLimit = Cents(attribute="figures.credit_limit_cents", required=True)
    tolerance = Rate(attribute="figures.tolerance_bps", required=True, description=TOLERANCE)
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


class AccountPage(Schema):
    data = fields.List(fields.Nested(AccountOut), required=True)
    summary = fields.Nested(CountSummary, required=True)


# Each kind of entry this service books, as (the public API's origin, its own kind). The
# public API knows four origins; the finer kind is answered in ``metadata.kind``. What the
# invoices of a purchase charge, give back or add in late charges is ``Invoice``, so that
# ``Payment`` stays what the customer paid in and ``Statement`` what the staff adjusted.
PUBLIC_ORIGINS: dict[str, tuple[str, str]] = {
    Origin.CREDIT: ("Credit", "Credit"),
    Origin.INVOICE: ("Invoice", "Invoice"),
    Origin.PAYMENT: ("Payment", "Payment"),
    Origin.STATEMENT: ("Statement", "Adjustment"),
    Origin.CANCELLATION: ("Invoice", "Cancellation"),
    Origin.REFUND: ("Invoice", "Refund"),
    Origin.LATE_FEE: ("Invoice", "LateFee"),
    Origin.INTEREST: ("Invoice", "Interest"),
}
ENTRY_KINDS = [kind for _, kind in PUBLIC_ORIGINS.values()]


class StatementEntryOut(Schema):
    id = fields.String(required=True)
    value = Cents(attribute="value_cents", required=True)
    date = Moment(attribute="created_at", required=True)
    origin = fields.Function(
        lambda entry: PUBLIC_ORIGINS[entry.origin][0],
        required=True,
        metadata={
            "type": "string",
            "enum": sorted({origin for origin, _ in PUBLIC_ORIGINS.values()}),
            "description": "the public API's origin; metadata.kind tells the kind of entry",
        },
    )
    doneBy = fields.String(attribute="done_by")
    metadata = fields.Function(
        lambda entry: public_metadata(entry.origin, entry.details),
        required=True,
        metadata={
            "type": "object",
            "properties": {"kind": {"type": "string", "enum": ENTRY_KINDS}},
            "required": ["kind"],
            "description": "kind: " + ", ".join(ENTRY_KINDS) + "; then what the entry "
            "records (transactionId, orderId, installment, numberOfInstallments, ...)",
        },
    )

    @post_dump
    def _omit_empty(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Like the public API, leave out ``doneBy`` when no one is named."""
        return {k: v for k, v in data.items() if v is not None}


def public_metadata(origin: str, details: dict[str, Any]) -> dict[str, Any]:
    """An entry's metadata: its kind first, then what it records, amounts in currency
    units, never in cents."""
    out = {"kind": PUBLIC_ORIGINS[origin][1], **details}
    if origin == Origin.CREDIT:
        if "creditLimit" in out:
            out["creditLimit"] = cents_to_decimal(out["creditLimit"])
        if "toleranceBps" in out:
            out["tolerance"] = bps_to_decimal(out.pop("toleranceBps"))
    return out


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


class MyCreditsLinkBody(Body):
    """How long the link stays valid, in seconds (default 24 hours, at most 30 days)."""

    expiresIn = WholeNumber(
        load_default=24 * 3600, validate=validate.Range(min=60, max=30 * 24 * 3600)
    )


class MyCreditsLinkOut(Schema):
    url = fields.String(required=True)
    expiresAt = Moment(required=True)
