"""How a customer reaches My Credits: a signed, expiring link minted for the store, or a
one-time sign-in link sent by e-mail.

- ``mint_link`` gives ``(url, expires_at)``: the account id and the expiry signed with the
  service's secret key (``itsdangerous``). It can be opened until it expires; a changed
  character or an expired link is refused. The store's API route
  ``POST /api/creditcontrol/accounts/{id}/mycredits-link`` is a thin call of it.
- ``request_sign_in`` puts a one-time link in the outbox for a holder's e-mail (owner or
  dependent); only the token's SHA-256 is stored, and ``redeem_sign_in`` uses it once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.credit.models import ACCOUNT_OPEN, Account, Holder
from connector.credit.settings import load_store_settings
from connector.errors import Conflict, NotFound, ValidationError
from connector.ids import utcnow
from connector.web.models import CustomerSignInToken
from connector.web.outbox import queue_mail

DEFAULT_TTL = timedelta(hours=24)
MAX_TTL = timedelta(days=30)
SIGN_IN_TTL = timedelta(minutes=30)
SIGN_IN_PER_HOUR = 5  # at most this many e-mailed links per holder and hour
_SALT = "connector.mycredits-link.v1"


class LinkRefused(Exception):
    """A link that is tampered with, expired, already used, or no longer fits its account."""


@dataclass(frozen=True)
class MintedLink:
    url: str
    expires_at: datetime

    def to_public(self) -> dict[str, Any]:
        """The API's answer: ``{"url", "expiresAt"}``."""
        return {"url": self.url, "expiresAt": self.expires_at.isoformat().replace("+00:00", "Z")}


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(str(current_app.secret_key), salt=_SALT)


def public_base_url() -> str:
    """``CONNECTOR_PUBLIC_URL`` when set, else the host the request came to."""
    configured = current_app.config["CONNECTOR_SETTINGS"].public_url
    if configured:
        return str(configured)
    return request.url_root.rstrip("/")


def _ensure_my_credits(session: Session) -> None:
    if not load_store_settings(session).my_credits_enabled:
        raise Conflict("My Credits is not enabled for this store", code="my_credits_disabled")


def mint_link(
    session: Session,
    account_id: str,
    *,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
) -> MintedLink:
    """A signed link to one open account's My Credits, valid for ``ttl``.

    Needs an app context (the secret key) and a request or ``CONNECTOR_PUBLIC_URL``.
    """
    now = now or utcnow()
    if not timedelta(minutes=1) <= ttl <= MAX_TTL:
        raise ValidationError("bad lifetime", fields={"ttl": "from 1 minute to 30 days"})
    _ensure_my_credits(session)
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"account {account_id!r} not found", code="account_not_found")
    if account.status != ACCOUNT_OPEN:
        raise Conflict(f"account {account_id} is closed", code="account_closed")
    expires_at = (now + ttl).replace(microsecond=0)
    token = _serializer().dumps({"a": account.id, "e": int(expires_at.timestamp())})
    path = url_for("mycredits.open_link", token=token)
    return MintedLink(public_base_url() + path, expires_at)


def read_link(token: str, *, now: datetime | None = None) -> str:
    """The account id a minted link grants, or ``LinkRefused``."""
    now = now or utcnow()
    try:
        data = _serializer().loads(token)
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


def request_sign_in(
    session: Session, email: str, *, subject: str, body: str, now: datetime | None = None
) -> bool:
    """E-mail a one-time link to the holder of an open account; False when nothing is sent.

    ``body`` may hold ``{link}`` and ``{minutes}``. The caller shows the same answer either
    way, so the page never tells who has an account.
    """
    now = now or utcnow()
    _ensure_my_credits(session)
    holder = session.scalar(
        select(Holder)
        .join(Account, Account.id == Holder.account_id)
        .where(
            Holder.email == email.strip().lower(),
            Holder.removed_at.is_(None),
            Account.status == ACCOUNT_OPEN,
        )
    )
    if holder is None:
        return False
    recent = session.scalar(
        select(func.count())
        .select_from(CustomerSignInToken)
        .where(
            CustomerSignInToken.holder_id == holder.id,
            CustomerSignInToken.created_at > now - timedelta(hours=1),
        )
    )
    if (recent or 0) >= SIGN_IN_PER_HOUR:
        return False
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
    link = public_base_url() + url_for("mycredits.sign_in_token", token=token)
    minutes = int(SIGN_IN_TTL.total_seconds() // 60)
    queue_mail(
        session,
        to=holder.email,
        subject=subject,
        body=body.format(link=link, minutes=minutes),
        now=now,
    )
    return True


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
    holder = session.get(Holder, row.holder_id)
    if holder is None or holder.removed_at is not None or holder.account_id != row.account_id:
        raise LinkRefused("the e-mail no longer holds this account")
    row.used_at = now
    session.flush()
    return row.account_id, row.holder_id


def grant_is_valid(session: Session, account_id: str, holder_id: str | None) -> bool:
    """Whether a customer session still fits: the account exists, the holder still holds it."""
    if session.get(Account, account_id) is None:
        return False
    if holder_id is None:
        return True
    holder = session.get(Holder, holder_id)
    return holder is not None and holder.removed_at is None and holder.account_id == account_id
