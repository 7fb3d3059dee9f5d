"""Staff users: created by ``connector users create``, passwords stored as scrypt hashes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from connector.credit.accounts import normalize_email
from connector.errors import Conflict, NotFound, ValidationError
from connector.ids import new_id, utcnow
from connector.web.models import StaffUser

MIN_PASSWORD_LENGTH = 10
_HASH_METHOD = "scrypt"
# Checked when the e-mail is unknown, so both answers take as long.
_DUMMY_HASH = generate_password_hash("not a real password", method=_HASH_METHOD)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            "password too short",
            fields={"password": f"at least {MIN_PASSWORD_LENGTH} characters"},
        )


def create_user(
    session: Session, *, email: str, password: str, name: str = "", now: datetime | None = None
) -> StaffUser:
    """Add a staff user; the password is kept only as a hash."""
    email = normalize_email(email)
    _check_password(password)
    if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise Conflict(f"a user {email} already exists", code="user_exists")
    user = StaffUser(
        id=new_id(),
        email=email,
        name=name.strip()[:200],
        password_hash=generate_password_hash(password, method=_HASH_METHOD),
        created_at=now or utcnow(),
        disabled_at=None,
        session_epoch=1,
    )
    session.add(user)
    session.flush()
    return user


def _by_email(session: Session, email: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user {email}", code="user_not_found")
    return user


def set_password(session: Session, email: str, password: str) -> StaffUser:
    """Change a password; sessions opened with the old one end."""
    _check_password(password)
    user = _by_email(session, email)
    user.password_hash = generate_password_hash(password, method=_HASH_METHOD)
    user.session_epoch += 1
    session.flush()
    return user


def disable_user(session: Session, email: str, *, now: datetime | None = None) -> StaffUser:
    """Stop a user from signing in; their open sessions end at their next request."""
    user = _by_email(session, email)
    if user.disabled_at is None:
        user.disabled_at = now or utcnow()
        user.session_epoch += 1
    session.flush()
    return user


def list_users(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.email)))


def authenticate(session: Session, email: str, password: str) -> StaffUser | None:
    """The active user with this e-mail and password, or None (same work either way)."""
    user = session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or user.disabled_at is not None:
        return None
    return user
