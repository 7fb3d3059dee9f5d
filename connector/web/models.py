"""Tables of the web edge: staff users, the mail outbox, customers' one-time sign-in links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from connector.db import Base


class StaffUser(Base):
    """A member of the store's staff who signs in to the admin pages."""

    __tablename__ = "staff_users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored in lower case
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    # Bumped when the password changes or the user is disabled: older sessions stop working.
    session_epoch: Mapped[int]


class OutboxMail(Base):
    """A mail to send. Kept after sending, so operators and tests can read what went out."""

    __tablename__ = "outbox_mails"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_outbox_mails_created_at", "created_at", "id"),)


class CustomerSignInToken(Base):
    """A one-time link to My Credits sent by e-mail; only the token's SHA-256 is stored."""

    __tablename__ = "customer_sign_in_tokens"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder_id: Mapped[str] = mapped_column(ForeignKey("holders.id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_customer_sign_in_tokens_holder_id", "holder_id"),)
