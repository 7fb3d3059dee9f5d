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
from connector.protocol.models import Payment, PaymentOperation

__all__ = [
    "Account",
    "ApiKey",
    "Base",
    "Holder",
    "ImportFilePart",
    "ImportJob",
    "ImportRowError",
    "Invoice",
    "Payment",
    "PaymentOperation",
    "Reservation",
    "StatementEntry",
    "StoreSettingsRow",
]
