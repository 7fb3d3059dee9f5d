"""Sessions for staff and customers, CSRF protection, and the sign-in guard.

Sessions are Flask's signed cookie (``HttpOnly``, ``SameSite=Lax``, ``Secure`` unless
``CONNECTOR_COOKIE_SECURE=false``) with a lifetime of ``CONNECTOR_SESSION_HOURS``. A staff
session carries the user's ``session_epoch``: changing the password or disabling the user
bumps it, which ends every session opened before.
"""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, g, redirect, request, session, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from connector.access.users import StaffUser
from connector.context import get_db, of
from connector.errors import N_

CSRF_FIELD = "csrf_token"
_STAFF = "staff"
_CUSTOMER = "customer"
# The platform connection waiting for this browser's decision (connector.web.consent):
# kept across sign-in, which the decision needs first.
_CONSENT = "consent"
# A staff user who gave the right password and still owes the code of their second factor.
_SECOND_STEP = "staff_second_step"
SECOND_STEP_SECONDS = 300


def configure_sessions(app: Flask) -> None:
    settings = of(app).settings
    app.config.update(
        SESSION_COOKIE_NAME="connector_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
    )


def csrf_token() -> str:
    """The session's CSRF token, created on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    """Refuse (400) a state-changing request without the session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = session.get("csrf")
    given = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    if not isinstance(expected, str) or not hmac.compare_digest(expected, given):
        abort(400, description=N_("The form expired or did not come from this site; try again."))


def safe_next(target: str | None, default: str) -> str:
    """A same-site path to go back to, never another host (no open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def sign_in_staff(user: StaffUser) -> None:
    """Start a fresh session (a new CSRF token too) for a staff user."""
    kept = {key: session[key] for key in ("lang", _CONSENT) if key in session}
    session.clear()
    session.permanent = True
    session[_STAFF] = {"id": user.id, "epoch": user.session_epoch}
    session.update(kept)
    csrf_token()


def hold_second_step(user: StaffUser, target: str) -> None:
    """The password was right; the session is not signed in until the code is."""
    session.pop(_STAFF, None)
    session[_SECOND_STEP] = {
        "id": user.id,
        "epoch": user.session_epoch,
        "at": int(time.time()),
        "next": target,
    }
    csrf_token()


def second_step() -> tuple[str, int, str] | None:
    """``(user id, session epoch, where to go)`` of a sign-in waiting for its code, for
    ``SECOND_STEP_SECONDS`` after the password; else None."""
    data = session.get(_SECOND_STEP)
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return None
    at = data.get("at")
    if not isinstance(at, int) or time.time() - at > SECOND_STEP_SECONDS:
        session.pop(_SECOND_STEP, None)
        return None
    return data["id"], int(data.get("epoch") or 0), str(data.get("next") or "/admin/")


def drop_second_step() -> None:
    session.pop(_SECOND_STEP, None)


def sign_out() -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def current_staff() -> StaffUser | None:
    """The signed-in staff user, checked against the database on every request."""
    if "staff_user" in g:
        return g.staff_user  # type: ignore[no-any-return]
    user = None
    data = session.get(_STAFF)
    if isinstance(data, dict):
        row = get_db().run(lambda db_session: db_session.get(StaffUser, data.get("id")))
        if row is not None and row.disabled_at is None and row.session_epoch == data.get("epoch"):
            user = row
    g.staff_user = user
    return user


def staff_required() -> WerkzeugResponse | None:
    """A ``before_request`` guard: staff pages need a signed-in user."""
    if current_staff() is None:
        session.pop(_STAFF, None)
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    return None


def hold_consent(connection_id: str) -> None:
    """Remember that this browser opened a platform connection's link."""
    session[_CONSENT] = connection_id


def held_consent() -> str | None:
    held = session.get(_CONSENT)
    return held if isinstance(held, str) else None


def drop_consent() -> None:
    session.pop(_CONSENT, None)


def sign_in_customer(account_id: str, holder_id: str | None, via: str) -> None:
    """Let this browser see one account's My Credits (and nothing else)."""
    session.permanent = True
    session[_CUSTOMER] = {"account": account_id, "holder": holder_id, "via": via}
    csrf_token()


def customer_grant() -> dict[str, Any] | None:
    data = session.get(_CUSTOMER)
    return data if isinstance(data, dict) and isinstance(data.get("account"), str) else None


def sign_out_customer() -> None:
    session.pop(_CUSTOMER, None)


def done_by() -> str | None:
    """Who did it, for the statement: the signed-in staff user's e-mail."""
    user = current_staff()
    return user.email if user is not None else None
