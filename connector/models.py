"""Every table, imported in one place so the metadata is complete (Alembic, tests)."""

from connector.access.connections import PlatformConnection
from connector.access.customer_links import CustomerSignInToken
from connector.access.keys import ApiKey
from connector.access.users import StaffUser
from connector.audit import AuditEntry
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
from connector.heartbeat import SchedulerHeartbeat
from connector.notify.notifications import Notification
from connector.notify.outbox import OutboxMail
from connector.payments.models import (
    Payment,
    PaymentCallback,
    PaymentOperation,
    PaymentReview,
)

__all__ = [
    "Account",
    "ApiKey",
    "AuditEntry",
    "Base",
    "CustomerSignInToken",
    "Holder",
    "ImportFilePart",
    "ImportJob",
    "ImportRowError",
    "Invoice",
    "Notification",
    "OutboxMail",
    "Payment",
    "PaymentCallback",
    "PaymentOperation",
    "PaymentReview",
    "PlatformConnection",
    "Reservation",
    "SchedulerHeartbeat",
    "StaffUser",
    "StatementEntry",
    "StoreSettingsRow",
]
