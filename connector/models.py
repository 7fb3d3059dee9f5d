"""Every table, imported in one place so the metadata is complete (Alembic, tests)."""

from connector.credit.models import (
    Account,
    Holder,
    Invoice,
    Reservation,
    StatementEntry,
    StoreSettingsRow,
)
from connector.db import Base
from connector.keys import ApiKey
from connector.protocol.models import (
    Payment,
    PaymentCallback,
    PaymentOperation,
    PaymentReview,
)

__all__ = [
    "Account",
    "ApiKey",
    "Base",
    "Holder",
    "Invoice",
    "Payment",
    "PaymentCallback",
    "PaymentOperation",
    "PaymentReview",
    "Reservation",
    "StatementEntry",
    "StoreSettingsRow",
]
