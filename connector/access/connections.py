"""The checkout platform's configuration flow: a merchant connects the platform to this
service from the platform's admin, and the platform receives a key of its own.

The protocol's three steps, each a verb here (the edges only parse and answer):

1. ``issue_token``: the platform asks for a token bound to its ``applicationId`` and the
   ``returnUrl`` it will take the merchant back to;
2. ``open_link`` then ``decide``: the merchant's browser brings the token, a staff user who
   may manage keys signs in and allows (an authorization code is appended to the
   ``returnUrl``) or denies (``&error=access_denied`` is);
3. ``exchange_code``: the platform trades the code for a new ``gateway`` key pair.

Why the platform's own calls carry no credentials: it has none yet (that is the point of
the flow), and the document's alternative, a VTEX ID cookie, could only be checked against
VTEX's servers. What keeps the flow safe instead:

- a token or code is 256 random bits, stored only as its SHA-256, bound to the
  ``applicationId`` it was issued for, used once, and short-lived (``TOKEN_LIFETIME``,
  ``DECISION_LIFETIME``, ``CODE_LIFETIME``);
- the token opens the consent page in one browser only (the row's id goes into that
  browser's signed session); nothing is granted until a signed-in staff user with
  ``MANAGE_KEYS`` allows it;
- the code only ever travels to a ``returnUrl`` on a host the operator allows
  (``CONNECTOR_ONBOARDING_RETURN_HOSTS``), over https (plain http only to this machine);
- a code presented twice was seen by someone else: as OAuth 2.0 does (RFC 6749 4.1.2),
  the key issued from it is revoked at once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from sqlalchemy import CheckConstraint, ColumnElement, ForeignKey, Index, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.sansio.utils import host_is_trusted

from connector import audit
from connector.access.keys import ApiKey, IssuedKey, create_key, hash_token, revoke_key
from connector.access.principals import MANAGE_KEYS
from connector.access.users import StaffUser
from connector.config import LOOPBACK_HOSTS
from connector.db import Base
from connector.errors import (
    Code,
    Conflict,
    ConnectorError,
    Forbidden,
    NotFound,
    Reason,
    ValidationError,
)
from connector.ids import new_id

TOKEN_LIFETIME = timedelta(minutes=10)  # from the platform's call to the merchant's click
DECISION_LIFETIME = timedelta(minutes=15)  # from opening the link to Allow or Deny
CODE_LIFETIME = timedelta(minutes=5)  # the platform exchanges it as the merchant returns
CODE_PARAMETER = "authorizationCode="  # the protocol's returnUrl ends with it, empty
DENIED_SUFFIX = "&error=access_denied"  # OAuth 2.0's word for a refusal (RFC 6749 4.1.2.1)
MAX_APPLICATION_ID = 100
MAX_RETURN_URL = 2000
KEY_ROLE = "gateway"  # the payment provider protocol and nothing else
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?")


class ConnectionStatus(StrEnum):
    """Where a connection is; the step it waits for ends at ``expires_at``."""

    ISSUED = "issued"  # the platform holds a token; the merchant has not opened it
    OPENED = "opened"  # opened in one browser: waiting for staff to allow or deny
    DENIED = "denied"
    ALLOWED = "allowed"  # a code went back through the browser; not exchanged yet
    CONNECTED = "connected"  # the code was exchanged for a key
    REVOKED = "revoked"  # by staff: its key is revoked
    CODE_REUSED = "code_reused"  # its code came back a second time: its key is revoked


_DECIDED = (
    ConnectionStatus.DENIED,
    ConnectionStatus.ALLOWED,
    ConnectionStatus.CONNECTED,
    ConnectionStatus.REVOKED,
    ConnectionStatus.CODE_REUSED,
)
_KEY_ISSUED = (ConnectionStatus.CONNECTED, ConnectionStatus.REVOKED, ConnectionStatus.CODE_REUSED)


class PlatformConnection(Base):
    """One run of the configuration flow, from the platform's token to its key."""

    __tablename__ = "platform_connections"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(MAX_APPLICATION_ID))
    return_url: Mapped[str] = mapped_column(String(MAX_RETURN_URL))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]  # the end of the step the status waits for
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    code_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(254))  # the staff user's e-mail
    key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))
    connected_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(254))

    __table_args__ = (
        CheckConstraint(
            "status IN ('issued', 'opened', 'denied', 'allowed', 'connected', 'revoked', "
            "'code_reused')",
            name="status",
        ),
        Index("ix_platform_connections_status_expires_at", "status", "expires_at"),
    )

    @property
    def return_host(self) -> str:
        """The host the merchant goes back to: the platform's admin of their store."""
        return urlsplit(self.return_url).hostname or ""

    @property
    def return_origin(self) -> str:
        """Its scheme and host, as a page's security policy names a place."""
        parts = urlsplit(self.return_url)
        return f"{parts.scheme}://{parts.netloc}"


def _refuse_url(reason: str | Reason) -> ValidationError:
    return ValidationError(
        "returnUrl is not allowed: {reason}",
        code=Code.RETURN_URL_NOT_ALLOWED,
        fields={"returnUrl": reason},
        reason=str(reason),
    )


def check_return_url(url: str, allowed_hosts: Iterable[str]) -> str:
    """The ``returnUrl`` when the code may go there: https (http only to this machine), a
    host the operator allows, no user name, no fragment, ending with
    ``authorizationCode=`` so that the code is appended as the protocol describes."""
    if len(url) > MAX_RETURN_URL:
        raise _refuse_url(Reason("at most {limit} characters", limit=MAX_RETURN_URL))
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        raise _refuse_url("not a URL") from None
    if parts.scheme != "https" and not (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        raise _refuse_url("only https, or http to localhost")
    # A plain host name: the consent page names it, and its origin joins the page's policy.
    if not _HOST_NAME.fullmatch(host) or not host_is_trusted(host, list(allowed_hosts)):
        raise _refuse_url(
            Reason("{host} is not in CONNECTOR_ONBOARDING_RETURN_HOSTS", host=host or "no host")
        )
    if parts.username is not None or parts.password is not None or "#" in url:
        raise _refuse_url("no user name, password or fragment")
    if not parts.query.endswith(CODE_PARAMETER):
        raise _refuse_url(Reason("must end with {parameter}", parameter=CODE_PARAMETER))
    return url


def _check_application_id(application_id: str) -> str:
    application_id = application_id.strip()
    if not application_id or len(application_id) > MAX_APPLICATION_ID:
        raise ValidationError(
            "invalid applicationId",
            fields={
                "applicationId": Reason("from 1 to {limit} characters", limit=MAX_APPLICATION_ID)
            },
        )
    return application_id


def issue_token(
    session: Session,
    *,
    application_id: str,
    return_url: str,
    allowed_hosts: Iterable[str],
    now: datetime,
) -> str:
    """Step 1: a token for the platform to send the merchant's browser with."""
    application_id = _check_application_id(application_id)
    return_url = check_return_url(return_url, allowed_hosts)
    # Anyone may ask for a token, so those nobody used are forgotten once they expire.
    session.execute(
        delete(PlatformConnection).where(
            PlatformConnection.status.in_((ConnectionStatus.ISSUED, ConnectionStatus.OPENED)),
            PlatformConnection.expires_at <= now,
        )
    )
    token = secrets.token_urlsafe(32)
    session.add(
        PlatformConnection(
            id=new_id(),
            application_id=application_id,
            return_url=return_url,
            status=ConnectionStatus.ISSUED,
            created_at=now,
            expires_at=now + TOKEN_LIFETIME,
            token_sha256=hash_token(token),
        )
    )
    session.flush()
    return token


def _locked(session: Session, condition: ColumnElement[bool]) -> PlatformConnection | None:
    """The row, locked until the transaction ends: two uses of one secret run one by one."""
    return session.scalar(select(PlatformConnection).where(condition).with_for_update())


def open_link(
    session: Session,
    *,
    application_id: str,
    token: str,
    held: str | None,
    now: datetime,
) -> PlatformConnection:
    """Step 2a: the merchant's browser brings the token; it is used up, and the connection
    waits for a decision in that browser (``held`` is the connection the browser already
    holds: the same link opened again there shows the same question)."""
    row = _locked(session, PlatformConnection.token_sha256 == hash_token(token))
    if row is None:
        raise ValidationError("unknown authorization token", code=Code.AUTHORIZATION_TOKEN_INVALID)
    if row.application_id != application_id:
        raise ValidationError(
            "the token was issued to another application", code=Code.APPLICATION_MISMATCH
        )
    if row.status == ConnectionStatus.OPENED and row.id == held:
        return row
    if row.status != ConnectionStatus.ISSUED:
        raise Conflict(
            "this authorization link was already used", code=Code.AUTHORIZATION_TOKEN_USED
        )
    if now >= row.expires_at:
        raise Conflict("this authorization link expired", code=Code.AUTHORIZATION_TOKEN_EXPIRED)
    row.status = ConnectionStatus.OPENED
    row.expires_at = now + DECISION_LIFETIME
    session.flush()
    return row


def require_key_manager(user: StaffUser) -> None:
    """Only a staff user who may manage keys connects the platform or revokes its key."""
    if not user.may(MANAGE_KEYS):
        raise Forbidden(
            "the {role} role may not connect applications or revoke their keys; "
            "ask an admin of the store",
            role=user.role,
        )


def waiting_consent(
    session: Session, connection_id: str | None, *, now: datetime, lock: bool = False
) -> PlatformConnection:
    """Step 2b: the connection a browser holds, still waiting for a decision."""
    condition = PlatformConnection.id == (connection_id or "")
    row = (
        _locked(session, condition)
        if lock
        else session.scalar(select(PlatformConnection).where(condition))
    )
    if row is None or row.status != ConnectionStatus.OPENED:
        raise NotFound(
            "no connection is waiting for a decision in this browser",
            code=Code.CONSENT_NOT_FOUND,
        )
    if now >= row.expires_at:
        raise Conflict("the time to decide ran out", code=Code.CONSENT_EXPIRED)
    return row


def decide(
    session: Session, connection_id: str | None, user: StaffUser, *, allow: bool, now: datetime
) -> str:
    """Step 2c: staff allow or deny; the URL to send the browser back to.

    Allowed, the code is appended to the ``returnUrl`` (which ends with
    ``authorizationCode=``); denied, the code stays empty and ``&error=access_denied``
    follows, so the platform can tell a refusal from a lost code.
    """
    require_key_manager(user)
    row = waiting_consent(session, connection_id, now=now, lock=True)
    row.decided_at = now
    row.decided_by = user.email
    if not allow:
        row.status = ConnectionStatus.DENIED
        session.flush()
        return row.return_url + DENIED_SUFFIX
    code = secrets.token_urlsafe(32)
    row.status = ConnectionStatus.ALLOWED
    row.code_sha256 = hash_token(code)
    row.expires_at = now + CODE_LIFETIME
    session.flush()
    return row.return_url + code


def exchange_code(
    session: Session, *, application_id: str, code: str, now: datetime
) -> IssuedKey | ConnectorError:
    """Step 3: a new ``gateway`` key pair for an allowed code, once.

    A code seen before revokes the key it gave; that refusal is returned rather than
    raised, so that the revocation commits before it is answered.
    """
    row = _locked(session, PlatformConnection.code_sha256 == hash_token(code))
    if row is None:
        raise ValidationError("unknown authorization code", code=Code.AUTHORIZATION_CODE_INVALID)
    if row.status in _KEY_ISSUED:
        if row.key_id is not None:
            revoke_key(session, row.key_id)
        if row.status == ConnectionStatus.CONNECTED:
            row.status = ConnectionStatus.CODE_REUSED
            row.revoked_at = now
        session.flush()
        return Conflict(
            "this authorization code was already used: the key issued from it is revoked",
            code=Code.AUTHORIZATION_CODE_USED,
        )
    if row.application_id != application_id:
        raise ValidationError(
            "the code was issued to another application", code=Code.APPLICATION_MISMATCH
        )
    if now >= row.expires_at:
        raise Conflict("this authorization code expired", code=Code.AUTHORIZATION_CODE_EXPIRED)
    issued = create_key(
        session,
        role=KEY_ROLE,
        label=f"{row.application_id} at {row.return_host}, allowed by {row.decided_by}"[:200],
    )
    row.status = ConnectionStatus.CONNECTED
    row.key_id = issued.app_key
    row.connected_at = now
    session.flush()
    return issued


@dataclass(frozen=True)
class ConnectionRow:
    """A decided connection as the admin lists it."""

    connection: PlatformConnection
    key_revoked_at: datetime | None  # also when the key was revoked elsewhere (the CLI)

    @property
    def active(self) -> bool:
        return self.connection.status == ConnectionStatus.CONNECTED and self.key_revoked_at is None


def list_connections(session: Session) -> list[ConnectionRow]:
    """Every decided connection, the latest decision first."""
    rows = session.execute(
        select(PlatformConnection, ApiKey.revoked_at)
        .outerjoin(ApiKey, ApiKey.id == PlatformConnection.key_id)
        .where(PlatformConnection.status.in_(_DECIDED))
        .order_by(PlatformConnection.decided_at.desc(), PlatformConnection.id.desc())
    )
    return [ConnectionRow(connection, revoked_at) for connection, revoked_at in rows]


def revoke_connection(
    session: Session, connection_id: str, user: StaffUser, *, now: datetime
) -> PlatformConnection:
    """Revoke a connection's key: the platform's next request with it is refused."""
    require_key_manager(user)
    row = _locked(session, PlatformConnection.id == connection_id)
    if row is None or row.key_id is None:
        raise NotFound(
            "no connection {connection} holds a key",
            code=Code.CONNECTION_NOT_FOUND,
            connection=connection_id,
        )
    revoke_key(session, row.key_id, audited=False)
    if row.status == ConnectionStatus.CONNECTED:
        row.status = ConnectionStatus.REVOKED
        row.revoked_at = now
        row.revoked_by = user.email
        audit.record(
            session,
            audit.Change(
                "connection.revoked",
                "connection",
                row.id,
                before={"status": ConnectionStatus.CONNECTED},
                after={"status": ConnectionStatus.REVOKED, "key": row.key_id},
            ),
            at=now,
        )
    session.flush()
    return row
