"""The states and kinds the ledger stores, as enumerations of their stored values."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class AccountStatus(StrEnum):
    OPEN = "Open"
    CLOSED = "Closed"


class HolderLevel(IntEnum):
    OWNER = 1
    DEPENDENT = 2


class ReservationStatus(StrEnum):
    """In the ledger's words: ``pending -> posted | voided | expired``."""

    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


class InvoiceStatus(StrEnum):
    """As stored. Overdue is not stored: an opened invoice past its due date (``rules``)."""

    OPENED = "Opened"
    PAID = "Paid"
    CANCELLED = "Cancelled"


class Origin(StrEnum):
    """What moved an account: the public API's statement origins and this service's own."""

    CREDIT = "Credit"
    INVOICE = "Invoice"
    PAYMENT = "Payment"
    STATEMENT = "Statement"
    CANCELLATION = "Cancellation"
    REFUND = "Refund"
    LATE_FEE = "LateFee"  # booked when an overdue invoice is paid with its charges
    INTEREST = "Interest"


class PaymentMethod(StrEnum):
    """How an invoice was paid, as the staff or the file says."""

    PIX = "pix"
    BOLETO = "boleto"
    TRANSFER = "transfer"
    OTHER = "other"
