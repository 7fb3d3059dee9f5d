"""Staff users of the admin pages: passwords stored as scrypt hashes, each with a role
(``connector.access.principals.STAFF_ROLE_PERMISSIONS``)."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import String, select
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

    def may(self, permission: str) -> bool:
        return permission in STAFF_ROLE_PERMISSIONS.get(self.role, frozenset())


MIN_PASSWORD_LENGTH = 10
_HASH_METHOD = "scrypt"


@cache
def _dummy_hash() -> str:
    """Checked when the e-mail is unknown, so both answers take as long. Made on first use:
    scrypt takes 32 MB and a tenth of a second, which no import should pay for."""
    return generate_password_hash("not a real password", method=_HASH_METHOD)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            "password too short",
            fields={
                "password": Reason("at least {minimum} characters", minimum=MIN_PASSWORD_LENGTH)
            },
        )


def _check_role(role: str) -> None:
    if role not in STAFF_ROLES:
        raise ValidationError(
            "unknown role {role}",
            fields={"role": Reason("one of {roles}", roles=", ".join(STAFF_ROLES))},
            role=repr(role),
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


def set_role(session: Session, email: str, role: str) -> StaffUser:
    """Change what a user may do; it holds from their next request."""
    _check_role(role)
    user = _by_email(session, email)
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
