"""Tables of the payment domain: payments, their operations, callbacks and reviews.

Idempotency lives in the schema: ``payment_id`` is the primary key, and
``(payment_id, request_id)`` is unique, so concurrent repeats collide in the database
rather than in process memory.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from connector.db import Base


class PaymentStatus(StrEnum):
    """What the gateway is told: a decision, or ``undefined`` while one is awaited."""

    APPROVED = "approved"
    DENIED = "denied"
    UNDEFINED = "undefined"


class OperationKind(StrEnum):
    SETTLE = "settle"
    CANCEL = "cancel"
    REFUND = "refund"


class CallbackStatus(StrEnum):
    """A callback waits to be delivered; then it was, or it will never be."""

    WAITING = "pending"
    DELIVERED = "delivered"
    SKIPPED = "skipped"  # the payment gave no callbackUrl
    EXPIRED = "expired"  # undelivered within its lifetime
    WITHDRAWN = "cancelled"  # the payment was cancelled first


class ReviewStatus(StrEnum):
    """A review above the limit waits for staff; then it is decided or withdrawn."""

    WAITING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    WITHDRAWN = "cancelled"  # the gateway cancelled the payment first


_WAITING = text("status = 'pending'")


class Payment(Base):
    """One ``POST /payments``: its request's identity and its current answer."""

    __tablename__ = "payments"

    payment_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    # The gateway's own transaction id (``transactionId``); ours is ``tid``.
    gateway_transaction_id: Mapped[str | None] = mapped_column("transaction_id", String(200))
    order_id: Mapped[str | None] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(200))
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    reservation_id: Mapped[str | None] = mapped_column(ForeignKey("reservations.id"), unique=True)
    status: Mapped[str] = mapped_column(String(10))  # a PaymentStatus
    code: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(String(500))
    value_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    installments: Mapped[int] = mapped_column(SmallInteger)
    installment_value_cents: Mapped[int | None] = mapped_column(BigInteger)  # as agreed
    buyer_email: Mapped[str | None] = mapped_column(String(254))
    buyer_document: Mapped[str | None] = mapped_column(String(64))
    # SHA-256 of what must not change between repeats (value, currency, installments, buyer).
    fingerprint: Mapped[str] = mapped_column(String(64))
    authorization_id: Mapped[str | None] = mapped_column(String(64))
    tid: Mapped[str] = mapped_column(String(64))
    nsu: Mapped[str] = mapped_column(String(64))
    callback_url: Mapped[str | None] = mapped_column(Text)
    test_suite: Mapped[bool] = mapped_column(Boolean)
    payment_method: Mapped[str | None] = mapped_column(String(64))
    delay_to_auto_settle_seconds: Mapped[int] = mapped_column(
        Integer, server_default=text("604800")
    )
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("status IN ('approved', 'denied', 'undefined')", name="status"),
        Index("ix_payments_transaction_id", "transaction_id"),
    )


class PaymentOperation(Base):
    """A settlement, cancellation or refund, replayed by its ``requestId``."""

    __tablename__ = "payment_operations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(200))
    request_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12))
    value_cents: Mapped[int] = mapped_column(BigInteger)
    http_status: Mapped[int] = mapped_column(SmallInteger)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("payment_id", "request_id"),
        CheckConstraint("kind IN ('settle', 'cancel', 'refund')", name="kind"),
    )


class PaymentCallback(Base):
    """The final answer of an ``undefined`` payment, stored first, then POSTed until delivered.

    ``final_status`` is applied to the payment when the callback is claimed for delivery,
    so every later ``POST /payments`` answers the state the gateway was told.
    """

    __tablename__ = "payment_callbacks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.payment_id"), unique=True)
    final_status: Mapped[str] = mapped_column(String(10))
    final_code: Mapped[str | None] = mapped_column(String(64))
    final_message: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("final_status IN ('approved', 'denied')", name="final_status"),
        CheckConstraint(
            "status IN ('pending', 'delivered', 'skipped', 'expired', 'cancelled')", name="status"
        ),
        Index(
            "ix_payment_callbacks_due",
            "next_attempt_at",
            sqlite_where=_WAITING,
            postgresql_where=_WAITING,
        ),
    )


class PaymentReview(Base):
    """A purchase above the available credit, waiting for the store's staff to decide.

    Only when the store enables over-limit review; the gateway meanwhile sees ``undefined``.
    """

    __tablename__ = "payment_reviews"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.payment_id"), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    value_cents: Mapped[int] = mapped_column(BigInteger)
    spending_power_cents: Mapped[int] = mapped_column(BigInteger)  # at the time of purchase
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(254))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'denied', 'cancelled')", name="status"),
        Index("ix_payment_reviews_status", "status", "created_at"),
    )
