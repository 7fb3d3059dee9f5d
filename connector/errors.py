"""One error vocabulary: stable machine codes, a human message, a fitting HTTP status.

Services raise these; each edge renders them in its own shape (the protocol's
``{"status": "error", "code", "message"}``, the API's ``{"error": {...}}``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class ConnectorError(Exception):
    """Base of every error a client may see."""

    code = "error"
    http_status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if http_status is not None:
            self.http_status = http_status
        self.fields = fields or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
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

    code = "invalid_request"
    http_status = 400


class NotFound(ConnectorError):
    code = "not_found"
    http_status = 404


class Conflict(ConnectorError):
    """The request is well formed but contradicts the current state."""

    code = "conflict"
    http_status = 409


class CreditDenied(ConnectorError):
    """A purchase or a change the credit rules refuse (a business outcome, not a fault)."""

    code = "denied"
    http_status = 422


class Unauthorized(ConnectorError):
    code = "unauthorized"
    http_status = 401


class Forbidden(ConnectorError):
    code = "forbidden"
    http_status = 403


# Named result codes that clients and tests rely on.
NO_ACCOUNT = "no_account"
ACCOUNT_CLOSED = "account_closed"
INSUFFICIENT_CREDIT = "insufficient_credit"
CURRENCY_NOT_SUPPORTED = "currency_not_supported"
INSTALLMENTS_NOT_ALLOWED = "installments_not_allowed"
IDEMPOTENCY_CONFLICT = "idempotency_conflict"
GROWTH_LIMIT_EXCEEDED = "growth_limit_exceeded"
REFUND_EXCEEDS_SETTLED = "refund_exceeds_settled"
