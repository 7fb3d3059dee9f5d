"""How a customer reaches My Credits: a signed, expiring link minted for the store, or a
one-time sign-in link sent by e-mail.

- ``mint_token`` signs the account id and the expiry with the service's secret key
  (``itsdangerous``); the token opens My Credits until it expires, and a changed
  character or an expired token is refused (``read_token``).
- ``start_sign_in`` makes a one-time token for a holder's e-mail (owner or dependent);
  only its SHA-256 is stored, and ``redeem_sign_in`` uses it once.

The edges turn tokens into links (``context.public_base_url`` and the My Credits route)
and put the sign-in mail in the outbox in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import ForeignKey, Index, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from connector.clock import utcnow
from connector.credit.identity import canonical_email
from connector.credit.models import Account, AccountStatus, Holder
from connector.credit.settings import load_store_settings
from connector.db import Base
from connector.errors import Code, Conflict, NotFound, ValidationError

DEFAULT_TTL = timedelta(hours=24)
MAX_TTL = timedelta(days=30)
SIGN_IN_TTL = timedelta(minutes=30)
SIGN_IN_PER_HOUR = 5  # at most this many e-mailed links per holder and hour
_SALT = "connector.mycredits-link.v1"


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


class LinkRefused(Exception):
    """A link that is tampered with, expired, already used, or no longer fits its account."""


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=_SALT)


def _ensure_my_credits(session: Session) -> None:
    if not load_store_settings(session).my_credits_enabled:
        raise Conflict("My Credits is not enabled for this store", code=Code.MY_CREDITS_DISABLED)


def mint_token(
    session: Session,
    account_id: str,
    *,
    secret: str,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
) -> tuple[str, datetime]:
    """A signed token for one open account's My Credits, and when it expires."""
    now = now or utcnow()
    if not timedelta(minutes=1) <= ttl <= MAX_TTL:
        raise ValidationError("bad lifetime", fields={"ttl": "from 1 minute to 30 days"})
    _ensure_my_credits(session)
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(
            "account {account} not found", code=Code.ACCOUNT_NOT_FOUND, account=account_id
        )
    if account.status != AccountStatus.OPEN:
        raise Conflict("account {account} is closed", code=Code.ACCOUNT_CLOSED, account=account_id)
    expires_at = (now + ttl).replace(microsecond=0)
    token = _serializer(secret).dumps({"a": account.id, "e": int(expires_at.timestamp())})
    return str(token), expires_at


def read_token(secret: str, token: str, *, now: datetime | None = None) -> str:
    """The account id a minted token grants, or ``LinkRefused``."""
    now = now or utcnow()
    try:
        data = _serializer(secret).loads(token)
    except BadSignature:
        raise LinkRefused("the link is not valid") from None
    if not isinstance(data, dict) or not isinstance(data.get("a"), str):
        raise LinkRefused("the link is not valid")
    expiry = data.get("e")
    if not isinstance(expiry, int) or datetime.fromtimestamp(expiry, UTC) <= now:
        raise LinkRefused("the link has expired")
    return str(data["a"])


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignIn:
    """A one-time sign-in made for a holder: mail ``token`` to ``email``."""

    email: str
    token: str
    minutes: int


def start_sign_in(session: Session, email: str, *, now: datetime | None = None) -> SignIn | None:
    """A one-time token for the holder of an open account; None when nothing is to be sent.

    The caller shows the same answer either way, so the page never tells who has an
    account.
    """
    now = now or utcnow()
    _ensure_my_credits(session)
    holder = session.scalar(
        select(Holder)
        .join(Account, Account.id == Holder.account_id)
        .where(
            Holder.email == canonical_email(email),
            Holder.removed_at.is_(None),
            Account.status == AccountStatus.OPEN,
        )
    )
    if holder is None:
        return None
    recent = session.scalar(
        select(func.count())
        .select_from(CustomerSignInToken)
        .where(
            CustomerSignInToken.holder_id == holder.id,
            CustomerSignInToken.created_at > now - timedelta(hours=1),
        )
    )
    if (recent or 0) >= SIGN_IN_PER_HOUR:
        return None
    token = secrets.token_urlsafe(32)
    session.add(
        CustomerSignInToken(
            token_sha256=_hash(token),
            holder_id=holder.id,
            account_id=holder.account_id,
            created_at=now,
            expires_at=now + SIGN_IN_TTL,
            used_at=None,
        )
    )
    return SignIn(holder.email, token, int(SIGN_IN_TTL.total_seconds() // 60))


def redeem_sign_in(session: Session, token: str, *, now: datetime | None = None) -> tuple[str, str]:
    """Use a one-time link: ``(account_id, holder_id)``, or ``LinkRefused``."""
    now = now or utcnow()
    row = session.get(CustomerSignInToken, _hash(token), with_for_update=True)
    if row is None:
        raise LinkRefused("the link is not valid")
    if row.used_at is not None:
        raise LinkRefused("the link was already used")
    if row.expires_at <= now:
        raise LinkRefused("the link has expired")
    if not grant_is_valid(session, row.account_id, row.holder_id):
        raise LinkRefused("the e-mail no longer holds this account")
    row.used_at = now
    session.flush()
    return row.account_id, row.holder_id


def grant_is_valid(session: Session, account_id: str, holder_id: str | None) -> bool:
    """Whether a customer's link or session still fits: the account is open and, after an
    e-mail sign-in, the holder still holds it. Checked on every page, so closing the
    account or removing the holder ends the session at its next request."""
    account = session.get(Account, account_id)
    if account is None or account.status != AccountStatus.OPEN:
        return False
    if holder_id is None:
        return True
    holder = session.get(Holder, holder_id)
    return holder is not None and holder.removed_at is None and holder.account_id == account_id
