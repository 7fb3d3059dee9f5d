"""Every table, imported in one place so the metadata is complete (Alembic, tests)."""

from connector.bulk.history import ImportFilePart, ImportJob, ImportRowError
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
from connector.web.models import CustomerSignInToken, OutboxMail, StaffUser

__all__ = [
    "Account",
    "ApiKey",
    "Base",
    "CustomerSignInToken",
    "Holder",
    "ImportFilePart",
    "ImportJob",
    "ImportRowError",
    "Invoice",
    "OutboxMail",
    "Payment",
    "PaymentCallback",
    "PaymentOperation",
    "PaymentReview",
    "Reservation",
    "StaffUser",
    "StatementEntry",
    "StoreSettingsRow",
]
