"""One error vocabulary: named codes, a message template with its values, an HTTP status.

Services raise these with an English template whose ``{name}`` placeholders are filled
from keyword values, and a code from ``Code`` (each class has a default):

    Conflict("account {account} is closed", code=Code.ACCOUNT_CLOSED, account=account.id)

Each edge renders them in its own shape (the protocol's ``{"status": "error", "code",
"message"}``, the API's ``{"error": {...}}``), and the pages translate the template
through the gettext catalogs before filling it, so a message reads the same in English,
Spanish and Portuguese. A field's reason is plain text, or a ``Reason`` with values of
its own. ``pybabel extract`` finds the templates by the class names (``babel.cfg``); a
text kept apart from the call that shows it is marked with ``N_``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

T = TypeVar("T")


class Code(StrEnum):
    """Every code a client, a page or a test may rely on. The values never change."""

    # Generic refusals
    ERROR = "error"
    INVALID_REQUEST = "invalid_request"
    MALFORMED_JSON = "malformed_json"
    MALFORMED_REQUEST = "malformed_request"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    DENIED = "denied"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    DATABASE_UNAVAILABLE = "database_unavailable"
    INTERNAL_ERROR = "internal_error"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    # Not found, by what was looked for
    ACCOUNT_NOT_FOUND = "account_not_found"
    HOLDER_NOT_FOUND = "holder_not_found"
    INVOICE_NOT_FOUND = "invoice_not_found"
    TRANSACTION_NOT_FOUND = "transaction_not_found"
    PAYMENT_NOT_FOUND = "payment_not_found"
    REVIEW_NOT_FOUND = "review_not_found"
    IMPORT_NOT_FOUND = "import_not_found"
    TEMPLATE_NOT_FOUND = "template_not_found"
    USER_NOT_FOUND = "user_not_found"
    KEY_NOT_FOUND = "key_not_found"
    # Accounts and holders
    ACCOUNT_EXISTS = "account_exists"
    ACCOUNT_CLOSED = "account_closed"
    ACCOUNT_HAS_OPEN_ITEMS = "account_has_open_items"
    HOLDER_EXISTS = "holder_exists"
    OWNER_NOT_REMOVABLE = "owner_not_removable"
    DOCUMENT_MISMATCH = "document_mismatch"
    # Purchases: the denials a checkout sees
    NO_ACCOUNT = "no_account"
    INSUFFICIENT_CREDIT = "insufficient_credit"
    CURRENCY_NOT_SUPPORTED = "currency_not_supported"
    INSTALLMENTS_NOT_ALLOWED = "installments_not_allowed"
    PAYMENT_METHOD_NOT_SUPPORTED = "payment_method_not_supported"
    PAYMENT_CANCELLED = "payment_cancelled"
    GROWTH_LIMIT_EXCEEDED = "growth_limit_exceeded"
    OVERDUE_INVOICES = "overdue_invoices"
    # Reservations (the API's transactions)
    TRANSACTION_EXISTS = "transaction_exists"
    TRANSACTION_NOT_PENDING = "transaction_not_pending"
    TRANSACTION_SETTLED = "transaction_settled"
    TRANSACTION_RELEASED = "transaction_released"
    TRANSACTION_NOT_SETTLED = "transaction_not_settled"
    INSTALLMENTS_MISMATCH = "installments_mismatch"
    BELOW_REFUNDED = "below_refunded"
    REFUND_EXCEEDS_SETTLED = "refund_exceeds_settled"
    # Invoices
    INVOICE_PAID = "invoice_paid"
    INVOICE_CANCELLED = "invoice_cancelled"
    INVOICE_NOT_OPEN = "invoice_not_open"
    POSTPONEMENT_REFUSED = "postponement_refused"
    PERIOD_TOO_LONG = "period_too_long"
    # Payments: answers and refused operations of the protocol
    APPROVED = "approved"
    SETTLED = "settled"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    UNDER_REVIEW = "under_review"
    REVIEW_DENIED = "review_denied"
    REVIEW_DECIDED = "review_decided"
    PAYMENT_NOT_APPROVED = "payment_not_approved"
    PAYMENT_DENIED = "payment_denied"
    REFUND_MANUALLY = "refund-manually"  # the protocol's own word: refund it by hand
    NOT_SETTLED = "not_settled"
    TEST_APPROVED = "test_approved"
    TEST_DENIED = "test_denied"
    TEST_ASYNC_APPROVED = "test_async_approved"
    TEST_ASYNC_DENIED = "test_async_denied"
    TEST_CARD_UNKNOWN = "test_card_unknown"
    # People and access
    USER_EXISTS = "user_exists"
    LAST_ADMIN = "last_admin"
    MY_CREDITS_DISABLED = "my_credits_disabled"
    # The platform's configuration flow (connector.access.connections)
    RETURN_URL_NOT_ALLOWED = "return_url_not_allowed"
    APPLICATION_MISMATCH = "application_mismatch"
    AUTHORIZATION_TOKEN_INVALID = "authorization_token_invalid"  # noqa: S105 (a code, not a secret)
    AUTHORIZATION_TOKEN_EXPIRED = "authorization_token_expired"  # noqa: S105 (a code, not a secret)
    AUTHORIZATION_TOKEN_USED = "authorization_token_used"  # noqa: S105 (a code, not a secret)
    CONSENT_NOT_FOUND = "consent_not_found"
    CONSENT_EXPIRED = "consent_expired"
    AUTHORIZATION_CODE_INVALID = "authorization_code_invalid"
    AUTHORIZATION_CODE_EXPIRED = "authorization_code_expired"
    AUTHORIZATION_CODE_USED = "authorization_code_used"
    CONNECTION_NOT_FOUND = "connection_not_found"
    # Bulk files and their rows
    INVALID_FILE = "invalid_file"
    NOT_CSV = "not_csv"
    EMPTY_FILE = "empty_file"
    UNREADABLE_FILE = "unreadable_file"
    UNREADABLE_ROW = "unreadable_row"
    DUPLICATE_COLUMN = "duplicate_column"
    MISSING_COLUMN = "missing_column"
    TOO_MANY_CELLS = "too_many_cells"
    REQUIRED = "required"
    INVALID_EMAIL = "invalid_email"
    INVALID_DOCUMENT = "invalid_document"
    INVALID_DOCUMENT_TYPE = "invalid_document_type"
    INVALID_COMPANY_NAME = "invalid_company_name"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_RATE = "invalid_rate"
    INVALID_STATUS = "invalid_status"
    INVALID_DATE = "invalid_date"
    INVALID_PAYMENT_METHOD = "invalid_payment_method"


@dataclass(frozen=True)
class Reason:
    """A field's reason with values of its own: ``Reason("from {low} to {high}", low=1, ...)``."""

    template: str
    values: Mapping[str, Any]

    def __init__(self, template: str, **values: Any) -> None:
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "values", values)

    def __str__(self) -> str:
        return fill(self.template, self.values)


def N_(message: str) -> str:
    """Mark a text for ``pybabel extract`` where it is written; it is translated where it
    is shown (``connector.web.i18n.gettext``)."""
    return message


class _Keep(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, values: Mapping[str, Any]) -> str:
    """A template with its placeholders filled from ``values``; braces that name nothing
    given (``{days, timeOfDay}`` in a reason) are left as they are."""
    if not values:
        return template
    try:
        return template.format_map(_Keep(values))
    except (ValueError, IndexError, AttributeError):  # braces that are not placeholders
        return template


class ConnectorError(Exception):
    """Base of every error a client may see."""

    code = Code.ERROR
    http_status = 400

    def __init__(
        self,
        template: str,
        *,
        code: Code | None = None,
        fields: Mapping[str, str | Reason] | None = None,
        http_status: int | None = None,
        **values: Any,
    ) -> None:
        if code is not None:
            self.code = code
        self.template = template
        self.values = values
        self.field_templates = dict(fields or {})
        if http_status is not None:
            self.http_status = http_status
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The English message, its placeholders filled."""
        return fill(self.template, self.values)

    def field_reasons(self) -> dict[str, Reason]:
        """Each bad field's reason as a template and its values (for translation).

        A reason given as plain text is taken as it is (it may quote what was sent); one
        with values of its own is a ``Reason``.
        """
        return {
            name: reason if isinstance(reason, Reason) else Reason(reason)
            for name, reason in self.field_templates.items()
        }

    @property
    def fields(self) -> dict[str, str]:
        """Each bad field and why, in English."""
        return {
            name: fill(reason.template, reason.values)
            for name, reason in self.field_reasons().items()
        }

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": str(self.code), "message": self.message}
        if self.field_templates:
            body["fields"] = self.fields
        return body


def only(results: Sequence[T | ConnectorError]) -> T:
    """The result of a batch of one, raised when it is a refusal."""
    [result] = results
    if isinstance(result, ConnectorError):
        raise result
    return result


class ValidationError(ConnectorError):
    """Input that does not fit: names each bad field."""

    code = Code.INVALID_REQUEST
    http_status = 400


class NotFound(ConnectorError):
    code = Code.NOT_FOUND
    http_status = 404


class Conflict(ConnectorError):
    """The request is well formed but contradicts the current state."""

    code = Code.CONFLICT
    http_status = 409


class CreditDenied(ConnectorError):
    """A purchase or a change the credit rules refuse (a business outcome, not a fault)."""

    code = Code.DENIED
    http_status = 422


class Unauthorized(ConnectorError):
    code = Code.UNAUTHORIZED
    http_status = 401


class Forbidden(ConnectorError):
    code = Code.FORBIDDEN
    http_status = 403
