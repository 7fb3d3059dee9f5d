"""Tables of the credit ledger. Money is integer cents; rates are integer basis points."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    SmallInteger,
    String,
    Text,
    select,
    text,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column

from connector.credit.statuses import (
    AccountStatus,
    HolderLevel,
    InvoiceStatus,
    Origin,
    PaymentMethod,
    ReservationStatus,
)
from connector.db import Base

__all__ = [
    "Account",
    "AccountStatus",
    "Holder",
    "HolderLevel",
    "Invoice",
    "InvoiceStatus",
    "Origin",
    "PaymentMethod",
    "Reservation",
    "ReservationStatus",
    "StatementEntry",
    "StoreSettingsRow",
]


_OPEN_ONLY = text("status = 'Open' AND document IS NOT NULL")
_ACTIVE_HOLDER = text("removed_at IS NULL")
_PENDING_ONLY = text("status = 'pending'")
_OPENED_ONLY = text("status = 'Opened'")


class Account(Base):
    """A customer's credit line, with its figures cached from entries and reservations."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    document: Mapped[str | None] = mapped_column(String(64))
    document_type: Mapped[str | None] = mapped_column(String(16))
    # The company's registered name (razão social, razón social); our API's companyName.
    company_name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(8))
    credit_limit_cents: Mapped[int] = mapped_column(BigInteger)
    tolerance_bps: Mapped[int] = mapped_column(Integer)
    # Cached: sum of non-Credit statement entries, and sum of pending reservations.
    balance_cents: Mapped[int] = mapped_column(BigInteger)
    reserved_cents: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("status IN ('Open', 'Closed')", name="status"),
        CheckConstraint("credit_limit_cents >= 0", name="credit_limit_cents"),
        CheckConstraint("tolerance_bps BETWEEN 0 AND 10000", name="tolerance_bps"),
        CheckConstraint("reserved_cents >= 0", name="reserved_cents"),
        Index(
            "uq_accounts_open_document",
            "document",
            "document_type",
            unique=True,
            sqlite_where=_OPEN_ONLY,
            postgresql_where=_OPEN_ONLY,
        ),
        Index("ix_accounts_email", "email"),
        Index("ix_accounts_created_at", "created_at", "id"),
    )


class Holder(Base):
    """A person allowed to spend from an account: the owner (level 1) or a dependent (2)."""

    __tablename__ = "holders"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    email: Mapped[str] = mapped_column(String(254))
    level: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]
    # The mails to this person: in their language (None: the store's), or none at all.
    language: Mapped[str | None] = mapped_column(String(2))
    mail_opt_out_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("level IN (1, 2)", name="level"),
        # One e-mail belongs to at most one active holder, so checkout lookups are unambiguous.
        Index(
            "uq_holders_active_email",
            "email",
            unique=True,
            sqlite_where=_ACTIVE_HOLDER,
            postgresql_where=_ACTIVE_HOLDER,
        ),
        Index("ix_holders_account_id", "account_id"),
    )


class Reservation(Base):
    """Credit held for an authorized purchase: the API's transaction, the protocol's
    pre-authorization. Called a reservation everywhere in the code."""

    __tablename__ = "reservations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    holder_email: Mapped[str | None] = mapped_column(String(254))
    order_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(8))
    value_cents: Mapped[int] = mapped_column(BigInteger)  # held now; 0 unless pending
    authorized_cents: Mapped[int] = mapped_column(BigInteger)  # base of the growth rule
    settled_cents: Mapped[int] = mapped_column(BigInteger)  # invoiced, after order changes
    refunded_cents: Mapped[int] = mapped_column(BigInteger)
    installments: Mapped[int] = mapped_column(SmallInteger)
    # The installment the buyer agreed to at checkout (the gateway's ``installmentsValue``,
    # interest included), or None: the settled value is split evenly.
    installment_value_cents: Mapped[int | None] = mapped_column(BigInteger)
    term_days: Mapped[list[int]] = mapped_column(JSON)
    invoice_count: Mapped[int] = mapped_column(SmallInteger)
    # The store-wide number its invoices share (V1001-01, V1001-02), taken at its first
    # invoicing (connector.credit.purchase_numbers); None before, and for purchases
    # invoiced before these numbers existed.
    purchase_number: Mapped[int | None] = mapped_column(BigInteger)
    auto_settle_at: Mapped[datetime | None]  # None: a hold the scheduler never settles
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'posted', 'voided', 'expired')", name="status"),
        CheckConstraint("value_cents >= 0", name="value_cents"),
        CheckConstraint("status = 'pending' OR value_cents = 0", name="held_only_pending"),
        CheckConstraint("authorized_cents > 0", name="authorized_cents"),
        CheckConstraint(
            "refunded_cents >= 0 AND refunded_cents <= settled_cents", name="refunded_cents"
        ),
        CheckConstraint("installments >= 1", name="installments"),
        Index(
            "ix_reservations_due",
            "auto_settle_at",
            sqlite_where=_PENDING_ONLY,
            postgresql_where=_PENDING_ONLY,
        ),
        Index("ix_reservations_account_id", "account_id", "created_at"),
        Index("uq_reservations_purchase_number", "purchase_number", unique=True),
    )


# Where PostgreSQL takes purchase numbers from: a sequence hands out numbers without
# waiting for other transactions (SQLite's single writer takes the highest stored + 1).
PURCHASE_NUMBERS = Sequence("purchase_numbers", start=1001, metadata=Base.metadata)


class Invoice(Base):
    """One installment to be paid."""

    __tablename__ = "invoices"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    friendly_id: Mapped[str] = mapped_column(String(24), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    reservation_id: Mapped[str] = mapped_column(ForeignKey("reservations.id"))
    order_id: Mapped[str | None] = mapped_column(String(200))
    installment: Mapped[int] = mapped_column(SmallInteger)
    number_of_installments: Mapped[int] = mapped_column(SmallInteger)
    value_cents: Mapped[int] = mapped_column(BigInteger)
    original_value_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Dates in the store's calendar: overdue from the day after, in the store's time zone.
    original_due_date: Mapped[date]
    due_date: Mapped[date]
    resolved_at: Mapped[datetime | None]
    payment_link: Mapped[str | None] = mapped_column(String(2048))
    observation: Mapped[str | None] = mapped_column(Text)
    postponement_count: Mapped[int] = mapped_column(SmallInteger)
    postponed_days: Mapped[int] = mapped_column(Integer)
    # How it was paid: the store's date, the method, a reference, and what was received:
    # the value plus the charges booked with it (``charges``).
    paid_on: Mapped[date | None]
    payment_method: Mapped[str | None] = mapped_column(String(16))
    payment_reference: Mapped[str | None] = mapped_column(String(200))
    received_cents: Mapped[int | None] = mapped_column(BigInteger)
    late_fee_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    interest_cents: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # Who bought: the holder whose purchase it is (a dependent's, or the owner's), read
    # from its reservation with the invoice (one primary-key lookup a row), so a page, a
    # mail or a list never needs a second query for it.
    bought_by: Mapped[str | None] = column_property(
        select(Reservation.holder_email)
        .where(Reservation.id == reservation_id)
        .correlate_except(Reservation)
        .scalar_subquery(),
    )

    __table_args__ = (
        CheckConstraint("status IN ('Opened', 'Paid', 'Cancelled')", name="status"),
        CheckConstraint(
            "value_cents >= 0 AND value_cents <= original_value_cents", name="value_cents"
        ),
        Index("ix_invoices_account_id", "account_id", "created_at", "id"),
        Index("ix_invoices_created_at", "created_at", "id"),
        Index("ix_invoices_status_due_date", "status", "due_date"),
        # The API's search filters by status or value and pages in (created_at, id) order.
        Index("ix_invoices_status_created_at", "status", "created_at", "id"),
        Index("ix_invoices_value_cents", "value_cents"),
        Index("ix_invoices_due_date", "due_date"),
        Index("ix_invoices_order_id", "order_id"),
        Index("ix_invoices_reservation_id", "reservation_id"),
        # Overdue blocking asks, at each purchase, whether the account has a late one.
        Index(
            "ix_invoices_open_due_date",
            "account_id",
            "due_date",
            sqlite_where=_OPENED_ONLY,
            postgresql_where=_OPENED_ONLY,
        ),
        CheckConstraint(
            "payment_method IN ('pix', 'boleto', 'transfer', 'other')", name="payment_method"
        ),
        CheckConstraint("late_fee_cents >= 0 AND interest_cents >= 0", name="charges"),
    )


class StatementEntry(Base):
    """An immutable line of an account's history; never edited, never deleted."""

    __tablename__ = "statement_entries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    origin: Mapped[str] = mapped_column(String(16))
    value_cents: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    done_by: Mapped[str | None] = mapped_column(String(254))
    invoice_id: Mapped[str | None] = mapped_column(ForeignKey("invoices.id"))
    # The reservation (the API's transaction) an entry belongs to, if any.
    reservation_id: Mapped[str | None] = mapped_column("transaction_id", String(64))
    details: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)

    __table_args__ = (
        CheckConstraint(
            "origin IN ('Credit', 'Invoice', 'Payment', 'Statement', 'Cancellation', 'Refund', "
            "'LateFee', 'Interest')",
            name="origin",
        ),
        Index("ix_statement_entries_account_id", "account_id", "created_at", "id"),
        Index("ix_statement_entries_invoice_id", "invoice_id"),
    )


class StoreSettingsRow(Base):
    """The store's settings: one row, one JSON document validated by the service.

    ``revision`` counts the changes: every worker reads it on each request and reads the
    document again only when it moved, so a change decides every later request.
    """

    __tablename__ = "store_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(254))

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)
