"""API keys: issued by this service, stored hashed, each with a role.

A token is 256 random bits, so a plain SHA-256 is enough to store it: there is nothing
to brute-force that a slow hash would protect.

A key's last use is written at most once a minute (``note_use``, called by the
``Authenticator`` after it accepted the key). The express authorization of the payment
protocol checks keys in its own statement and does not write it: that path stays
read-only, so a gateway key's "last used" counts its other protocol calls.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from connector import audit
from connector.clock import utcnow
from connector.db import Base
from connector.errors import Code, NotFound, Reason, ValidationError

ROLES = ("admin", "accounts", "invoices", "read", "gateway")  # see connector.access.principals
INITIAL_KEY_LABEL = "generated at first start"
USE_RECORDED_EVERY = timedelta(minutes=1)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the AppKey itself
    token_sha256: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(254))  # a staff user's e-mail
    last_used_at: Mapped[datetime | None]  # to the minute (USE_RECORDED_EVERY)


@dataclass(frozen=True)
class IssuedKey:
    """A new pair, shown once: the token is not stored."""

    app_key: str
    app_token: str
    role: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(session: Session, *, role: str, label: str = "", by: str | None = None) -> IssuedKey:
    """Issue a new key pair with a role; only its hash is kept."""
    if role not in ROLES:
        raise ValidationError(
            "unknown role {role}: one of {roles}",
            fields={"role": Reason("one of {roles}", roles=", ".join(ROLES))},
            role=repr(role),
            roles=", ".join(ROLES),
        )
    app_key = f"ck_{secrets.token_hex(10)}"
    app_token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        ApiKey(
            id=app_key,
            token_sha256=hash_token(app_token),
            role=role,
            label=label,
            created_at=now,
            revoked_at=None,
            created_by=by,
            last_used_at=None,
        )
    )
    session.flush()
    audit.record(
        session,
        audit.Change("key.created", "key", app_key, after={"role": role, "label": label}),
        at=now,
    )
    return IssuedKey(app_key, app_token, role)


def verify_key(session: Session, app_key: str, app_token: str) -> str | None:
    """The role of a valid, unrevoked pair, or None. Compares in constant time."""
    row = session.get(ApiKey, app_key) if app_key else None
    expected = row.token_sha256 if row is not None else hash_token("\0no such key")
    matches = hmac.compare_digest(expected, hash_token(app_token or ""))
    if row is None or row.revoked_at is not None or not matches:
        return None
    return row.role


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def revoke_key(session: Session, app_key: str, *, audited: bool = True) -> ApiKey:
    """Revoke a key (again: a no-op). ``audited=False`` when the caller records the
    change itself (a connection's revocation), so one change has one entry."""
    row = session.get(ApiKey, app_key)
    if row is None:
        raise NotFound("no key {key}", code=Code.KEY_NOT_FOUND, key=repr(app_key))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        if audited:
            audit.record(
                session,
                audit.Change(
                    "key.revoked",
                    "key",
                    app_key,
                    before={"revoked": False},
                    after={"revoked": True},
                ),
                at=row.revoked_at,
            )
    return row


def note_use(session: Session, app_key: str, now: datetime | None = None) -> None:
    """Record that the key was used now, unless that was recorded less than a minute ago."""
    now = now or utcnow()
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == app_key,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - USE_RECORDED_EVERY),
        )
        .values(last_used_at=now)
    )


def has_any_key(session: Session) -> bool:
    return session.scalar(select(ApiKey.id).limit(1)) is not None
