"""Staff users of the admin pages: passwords stored as scrypt hashes, each with a role
(``connector.access.principals.STAFF_ROLE_PERMISSIONS``).

- A user added from the admin, or whose password an admin resets, gets a one-time
  set-password link (``PasswordLink``): only its SHA-256 is stored, it expires after
  ``SET_PASSWORD_TTL`` and works once. A reset leaves the old password working until
  the new one is set (a lost mail locks nobody out; disable the user to stop them).
- The last active admin can be neither disabled nor demoted: someone must be able to
  manage the staff.
- An optional TOTP second factor (RFC 6238, ``pyotp``): the secret is stored encrypted
  with a key derived from the service's secret key (``CONNECTOR_SECRET_KEY`` or the
  instance folder's ``secret_key``), so a database dump alone does not reveal it. Codes
  of the previous, current and next 30-second step are accepted, each step at most once,
  and after ``TOTP_MAX_FAILURES`` wrong codes in a row no code is accepted for
  ``TOTP_LOCKOUT``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import ForeignKey, Index, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from connector import audit
from connector.access.principals import STAFF_ROLE_PERMISSIONS, STAFF_ROLES
from connector.clock import utcnow
from connector.credit.identity import canonical_email, normalize_email
from connector.db import Base
from connector.errors import Code, Conflict, Forbidden, NotFound, Reason, ValidationError
from connector.ids import new_id


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
    role: Mapped[str] = mapped_column(String(16), server_default="admin")  # STAFF_ROLES
    # The TOTP secret, encrypted (``_totp_box``); None without a second factor.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_last_step: Mapped[int | None]  # the last step a code was accepted for (no replay)
    totp_failures: Mapped[int] = mapped_column(server_default="0")  # wrong codes in a row
    totp_failed_at: Mapped[datetime | None]

    @property
    def has_second_factor(self) -> bool:
        return self.totp_secret is not None

    def may(self, permission: str) -> bool:
        return permission in STAFF_ROLE_PERMISSIONS.get(self.role, frozenset())


class StaffPasswordToken(Base):
    """A one-time set-password link of a staff user; only the token's SHA-256 is stored."""

    __tablename__ = "staff_password_tokens"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(254))

    __table_args__ = (Index("ix_staff_password_tokens_user_id", "user_id"),)


MIN_PASSWORD_LENGTH = 10
SET_PASSWORD_TTL = timedelta(hours=48)
TOTP_MAX_FAILURES = 5
TOTP_LOCKOUT = timedelta(minutes=15)
_HASH_METHOD = "scrypt"


@cache
def _dummy_hash() -> str:
    """Checked when the e-mail is unknown, so both answers take as long. Made on first use:
    scrypt takes 32 MB and a tenth of a second, which no import should pay for."""
    return generate_password_hash("not a real password", method=_HASH_METHOD)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            "password too short: at least {minimum} characters",
            fields={
                "password": Reason("at least {minimum} characters", minimum=MIN_PASSWORD_LENGTH)
            },
            minimum=MIN_PASSWORD_LENGTH,
        )


def _check_role(role: str) -> None:
    if role not in STAFF_ROLES:
        raise ValidationError(
            "unknown role {role}: one of {roles}",
            fields={"role": Reason("one of {roles}", roles=", ".join(STAFF_ROLES))},
            role=repr(role),
            roles=", ".join(STAFF_ROLES),
        )


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    name: str = "",
    role: str = "admin",
    now: datetime | None = None,
) -> StaffUser:
    """Add a staff user; the password is kept only as a hash."""
    email = normalize_email(email)
    _check_password(password)
    _check_role(role)
    if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise Conflict("a user {email} already exists", code=Code.USER_EXISTS, email=email)
    user = StaffUser(
        id=new_id(),
        email=email,
        name=name.strip()[:200],
        password_hash=generate_password_hash(password, method=_HASH_METHOD),
        created_at=now or utcnow(),
        disabled_at=None,
        session_epoch=1,
        role=role,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        audit.Change("staff.created", "staff", email, after={"role": role, "name": user.name}),
        at=user.created_at,
    )
    return user


def _by_email(session: Session, email: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.email == canonical_email(email)))
    if user is None:
        raise NotFound("no user {email}", code=Code.USER_NOT_FOUND, email=email)
    return user


def set_password(session: Session, email: str, password: str) -> StaffUser:
    """Change a password; sessions opened with the old one end."""
    _check_password(password)
    user = _by_email(session, email)
    user.password_hash = generate_password_hash(password, method=_HASH_METHOD)
    user.session_epoch += 1
    session.flush()
    # The trail says that it changed, never what it became.
    audit.record(session, audit.Change("staff.password", "staff", user.email), at=utcnow())
    return user


def _keep_an_admin(session: Session, user: StaffUser) -> None:
    """Refuse to take away the last active admin (nobody could manage the staff)."""
    if user.role != "admin" or user.disabled_at is not None:
        return
    admins = select(StaffUser.id).where(StaffUser.role == "admin", StaffUser.disabled_at.is_(None))
    # Locked, so two admins demoting each other at once cannot both pass.
    others = session.scalars(admins.where(StaffUser.id != user.id).with_for_update()).all()
    if not others:
        raise Conflict(
            "{email} is the last active admin: make another user admin first",
            code=Code.LAST_ADMIN,
            email=user.email,
        )


def set_role(session: Session, email: str, role: str) -> StaffUser:
    """Change what a user may do; it holds from their next request."""
    _check_role(role)
    user = _by_email(session, email)
    if role != "admin":
        _keep_an_admin(session, user)
    before = user.role
    user.role = role
    session.flush()
    if before != role:
        audit.record(
            session,
            audit.Change(
                "staff.role", "staff", user.email, before={"role": before}, after={"role": role}
            ),
            at=utcnow(),
        )
    return user


def disable_user(session: Session, email: str, *, now: datetime | None = None) -> StaffUser:
    """Stop a user from signing in; their open sessions end at their next request."""
    user = _by_email(session, email)
    _keep_an_admin(session, user)
    if user.disabled_at is None:
        user.disabled_at = now or utcnow()
        user.session_epoch += 1
        audit.record(
            session,
            audit.Change(
                "staff.disabled",
                "staff",
                user.email,
                before={"disabled": False},
                after={"disabled": True},
            ),
            at=user.disabled_at,
        )
    session.flush()
    return user


def require(user: StaffUser, permission: str) -> None:
    """Refuse what the user's role does not grant (a viewer changes nothing)."""
    if not user.may(permission):
        raise Forbidden("the {role} role may not do this", role=user.role)


def enable_user(session: Session, email: str) -> StaffUser:
    """Let a disabled user sign in again (with their password; old sessions stay ended)."""
    user = _by_email(session, email)
    user.disabled_at = None
    session.flush()
    return user


def list_users(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.email)))


def authenticate(session: Session, email: str, password: str) -> StaffUser | None:
    """The active user with this e-mail and password, or None (same work either way)."""
    user = session.scalar(select(StaffUser).where(StaffUser.email == canonical_email(email)))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password) or user.disabled_at is not None:
        return None
    return user


def user_by_id(session: Session, user_id: str) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound("no user {email}", code=Code.USER_NOT_FOUND, email=user_id)
    return user


# Set-password links


@dataclass(frozen=True)
class PasswordLink:
    """A one-time set-password token made for ``email``: mail it, show it once."""

    email: str
    token: str
    expires_at: datetime


class PasswordLinkRefused(Exception):
    """A set-password link that is unknown, expired, already used, or of a disabled user."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_password_link(
    session: Session, email: str, *, by: str | None = None, now: datetime | None = None
) -> PasswordLink:
    """A new set-password link for an active user; earlier unused links stop working."""
    now = now or utcnow()
    user = _by_email(session, email)
    if user.disabled_at is not None:
        raise Conflict("{email} is disabled: enable the user first", email=user.email)
    session.execute(
        update(StaffPasswordToken)
        .where(StaffPasswordToken.user_id == user.id, StaffPasswordToken.used_at.is_(None))
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    expires_at = now + SET_PASSWORD_TTL
    session.add(
        StaffPasswordToken(
            token_sha256=_token_hash(token),
            user_id=user.id,
            created_at=now,
            expires_at=expires_at,
            used_at=None,
            created_by=by,
        )
    )
    session.flush()
    return PasswordLink(user.email, token, expires_at)


def invite_user(
    session: Session,
    *,
    email: str,
    name: str = "",
    role: str,
    by: str | None = None,
    now: datetime | None = None,
) -> tuple[StaffUser, PasswordLink]:
    """Add a user who has no password yet, and the link they set one with."""
    # A random password nobody knows until the link is used.
    user = create_user(
        session, email=email, password=secrets.token_urlsafe(32), name=name, role=role, now=now
    )
    return user, start_password_link(session, user.email, by=by, now=now)


def _usable_link(session: Session, token: str, now: datetime, *, lock: bool) -> StaffPasswordToken:
    row = session.get(StaffPasswordToken, _token_hash(token), with_for_update=lock)
    if row is None:
        raise PasswordLinkRefused("the link is not valid")
    if row.used_at is not None:
        raise PasswordLinkRefused("the link was already used")
    if row.expires_at <= now:
        raise PasswordLinkRefused("the link has expired")
    user = session.get(StaffUser, row.user_id)
    if user is None or user.disabled_at is not None:
        raise PasswordLinkRefused("the link is not valid")
    return row


def password_link_user(session: Session, token: str, *, now: datetime | None = None) -> StaffUser:
    """The user a set-password link is for, or ``PasswordLinkRefused`` (nothing is used)."""
    row = _usable_link(session, token, now or utcnow(), lock=False)
    return user_by_id(session, row.user_id)


def redeem_password_link(
    session: Session, token: str, password: str, *, now: datetime | None = None
) -> StaffUser:
    """Set the password with a link, once; sessions opened before end."""
    now = now or utcnow()
    _check_password(password)  # a refused password leaves the link usable
    row = _usable_link(session, token, now, lock=True)
    user = user_by_id(session, row.user_id)
    row.used_at = now
    user.password_hash = generate_password_hash(password, method=_HASH_METHOD)
    user.session_epoch += 1
    session.flush()
    return user


# The TOTP second factor


def _totp_box(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"connector.staff-totp.v1\0" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def new_totp_secret() -> str:
    """A fresh base32 secret for an authenticator app (160 bits)."""
    return pyotp.random_base32(32)


def totp_uri(secret: str, email: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The 30-second step (previous, current or next) the code is right for, or None."""
    code = "".join(code.split())
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for candidate in (step - 1, step, step + 1):
        if secrets.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def _bad_code() -> ValidationError:
    return ValidationError(
        "wrong code: enter the 6 digits your app shows now",
        fields={"code": "the 6 digits your app shows now"},
    )


def confirm_totp(
    session: Session,
    user_id: str,
    secret: str,
    code: str,
    *,
    secret_key: str,
    now: datetime | None = None,
) -> StaffUser:
    """Turn the second factor on, once a code from the app proves it has the secret."""
    now = now or utcnow()
    step = _matching_step(secret, code, now)
    if step is None:
        raise _bad_code()
    user = user_by_id(session, user_id)
    user.totp_secret = _totp_box(secret_key).encrypt(secret.encode()).decode()
    user.totp_last_step = step
    user.totp_failures = 0
    user.totp_failed_at = None
    session.flush()
    return user


def verify_totp(
    session: Session, user_id: str, code: str, *, secret_key: str, now: datetime | None = None
) -> bool:
    """Whether the code is right and new; counts wrong codes and locks out after too many."""
    now = now or utcnow()
    user = session.get(StaffUser, user_id, with_for_update=True)
    if user is None or user.totp_secret is None:
        return False
    if totp_locked(user, now):
        return False
    try:
        secret = _totp_box(secret_key).decrypt(user.totp_secret.encode()).decode()
    except InvalidToken:
        return False  # the secret key changed: an admin removes the factor, the user enrols again
    step = _matching_step(secret, code, now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        user.totp_failures += 1
        user.totp_failed_at = now
        session.flush()
        return False
    user.totp_last_step = step
    user.totp_failures = 0
    user.totp_failed_at = None
    session.flush()
    return True


def totp_locked(user: StaffUser, now: datetime) -> bool:
    """Whether too many wrong codes lock this user's second factor for now."""
    return (
        user.totp_failures >= TOTP_MAX_FAILURES
        and user.totp_failed_at is not None
        and now - user.totp_failed_at < TOTP_LOCKOUT
    )


def remove_totp(session: Session, email: str) -> StaffUser:
    """Turn a user's second factor off (a lost phone); they sign in with the password."""
    user = _by_email(session, email)
    user.totp_secret = None
    user.totp_last_step = None
    user.totp_failures = 0
    user.totp_failed_at = None
    session.flush()
    return user
