"""People: the staff users an admin adds, changes, disables and resets; the public page a
user sets their password on; each user's own page, where they turn on a second factor;
and the second step of signing in with one.

Rules live in ``connector.access.users``; this module reads forms, mails the one-time
links through the outbox and shows them once to the admin who made them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import flash, redirect, request, session, url_for
from markupsafe import Markup
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from connector import pix
from connector.access.principals import MANAGE_STAFF
from connector.access.users import (
    MIN_PASSWORD_LENGTH,
    SET_PASSWORD_TTL,
    TOTP_LOCKOUT,
    PasswordLink,
    PasswordLinkRefused,
    StaffUser,
    confirm_totp,
    disable_user,
    enable_user,
    invite_user,
    list_users,
    new_totp_secret,
    password_link_user,
    redeem_password_link,
    remove_totp,
    require,
    set_role,
    start_password_link,
    totp_locked,
    totp_uri,
    user_by_id,
    verify_totp,
)
from connector.context import current, get_db, get_settings, now, public_base_url
from connector.errors import N_, ConnectorError
from connector.notify.outbox import deliver_pending, queue_mail
from connector.web import i18n
from connector.web.admin.base import bp, needs
from connector.web.auth import (
    current_staff,
    drop_second_step,
    second_step,
    sign_in_staff,
)
from connector.web.messages import error_fields, error_message
from connector.web.pages import render

_ENROL = "totp_enrol"  # the secret being enrolled, until a code confirms it


def role_names() -> dict[str, str]:
    """Each staff role and what it may, in the page's language."""
    return {
        "admin": i18n.gettext("Admin: everything, and the settings, connections, keys and people"),
        "finance": i18n.gettext("Finance: accounts, limits, invoices, reviews and imports"),
        "viewer": i18n.gettext("Viewer: reads every page, changes nothing"),
    }


def _manager() -> StaffUser:
    user = current_staff()
    assert user is not None  # the admin's guard saw to it
    require(user, MANAGE_STAFF)  # the page too, not only its forms: it lists the staff
    return user


def _mail_link(db_session: Session, link: PasswordLink, *, welcome: bool) -> str:
    """Queue the set-password mail in the caller's transaction; the link, to show once."""
    url = public_base_url() + url_for("admin.set_password", token=link.token)
    hours = int(SET_PASSWORD_TTL.total_seconds() // 3600)
    if welcome:
        subject = i18n.gettext("You were added to Customer Credit")
        intro = i18n.gettext("You were added to the store's Customer Credit admin.")
    else:
        subject = i18n.gettext("Set a new password for Customer Credit")
        intro = i18n.gettext("An admin asked for a new password for your Customer Credit user.")
    body = (
        intro
        + "\n\n"
        + i18n.gettext(
            "Set your password with this link:\n\n{link}\n\nIt works once, within {hours} hours.",
            link=url,
            hours=hours,
        )
    )
    queue_mail(db_session, to=link.email, subject=subject, body=body, now=now())
    return url


def _people_page(
    status: int = 200,
    *,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    shown_link: dict[str, Any] | None = None,
) -> tuple[str, int]:
    me = _manager()
    users = get_db().run(list_users)  # rows a snapshot's rollback would expire
    return render(
        "admin/people.html",
        status,
        users=users,
        me=me,
        roles=list(role_names().items()),
        role_short={
            "admin": i18n.gettext("Admin"),
            "finance": i18n.gettext("Finance"),
            "viewer": i18n.gettext("Viewer"),
        },
        error=error,
        errors=errors or {},
        values=values or {"email": "", "name": "", "role": "finance"},
        shown_link=shown_link,
    )


@bp.get("/people")
def people() -> tuple[str, int]:
    return _people_page()


@bp.post("/people")
@needs(MANAGE_STAFF)
def add_person() -> tuple[str, int]:
    me = _manager()
    values = {
        "email": (request.form.get("email") or "").strip()[:254],
        "name": (request.form.get("name") or "").strip()[:200],
        "role": request.form.get("role") or "",
    }
    moment = now()

    def add(db_session: Session) -> tuple[str, str, datetime]:
        _user, link = invite_user(
            db_session,
            email=values["email"],
            name=values["name"],
            role=values["role"],
            by=me.email,
            now=moment,
        )
        return link.email, _mail_link(db_session, link, welcome=True), link.expires_at

    try:
        email, url, expires_at = get_db().run(add)
    except ConnectorError as exc:
        return _people_page(
            exc.http_status, error=error_message(exc), errors=error_fields(exc), values=values
        )
    deliver_pending(get_db(), get_settings().smtp_url)
    shown = {"email": email, "url": url, "expires_at": expires_at, "welcome": True}
    return _people_page(201, shown_link=shown)


def _change(user_id: str, change: Callable[[Session, str], Any], done: str) -> Any:
    """Apply a change to the user ``user_id`` names; the page again, with what happened."""
    _manager()
    try:
        email = get_db().run(
            lambda db_session: change(db_session, user_id_email(db_session, user_id))
        )
    except ConnectorError as exc:
        return _people_page(exc.http_status, error=error_message(exc))
    flash(i18n.gettext(done, email=email), "success")
    return redirect(url_for("admin.people"))


def user_id_email(db_session: Session, user_id: str) -> str:
    return user_by_id(db_session, user_id).email


@bp.post("/people/<user_id>/role")
@needs(MANAGE_STAFF)
def change_role(user_id: str) -> Any:
    role = request.form.get("role") or ""

    def change(db_session: Session, email: str) -> str:
        return set_role(db_session, email, role).email

    return _change(user_id, change, N_("The role of {email} is changed."))


@bp.post("/people/<user_id>/disable")
@needs(MANAGE_STAFF)
def disable_person(user_id: str) -> Any:
    moment = now()

    def change(db_session: Session, email: str) -> str:
        return disable_user(db_session, email, now=moment).email

    return _change(user_id, change, N_("{email} is disabled: their sessions ended."))


@bp.post("/people/<user_id>/enable")
@needs(MANAGE_STAFF)
def enable_person(user_id: str) -> Any:
    def change(db_session: Session, email: str) -> str:
        return enable_user(db_session, email).email

    return _change(user_id, change, N_("{email} may sign in again."))


@bp.post("/people/<user_id>/second-factor/remove")
@needs(MANAGE_STAFF)
def remove_second_factor(user_id: str) -> Any:
    def change(db_session: Session, email: str) -> str:
        return remove_totp(db_session, email).email

    return _change(
        user_id, change, N_("The second factor of {email} is removed: the password suffices.")
    )


@bp.post("/people/<user_id>/reset")
@needs(MANAGE_STAFF)
def reset_password(user_id: str) -> tuple[str, int]:
    me = _manager()
    moment = now()

    def reset(db_session: Session) -> tuple[str, str, datetime]:
        email = user_id_email(db_session, user_id)
        link = start_password_link(db_session, email, by=me.email, now=moment)
        return link.email, _mail_link(db_session, link, welcome=False), link.expires_at

    try:
        email, url, expires_at = get_db().run(reset)
    except ConnectorError as exc:
        return _people_page(exc.http_status, error=error_message(exc))
    deliver_pending(get_db(), get_settings().smtp_url)
    shown = {"email": email, "url": url, "expires_at": expires_at, "welcome": False}
    return _people_page(200, shown_link=shown)


# The public page a user sets their password on


def _link_refused(refused: PasswordLinkRefused) -> tuple[str, int]:
    reasons = {
        "the link is not valid": i18n.gettext("This link is not valid."),
        "the link was already used": i18n.gettext("This link was already used."),
        "the link has expired": i18n.gettext("This link has expired."),
    }
    message = reasons.get(str(refused), i18n.gettext("This link is not valid."))
    return render("admin/set_password.html", 410, refused=message, email="", errors={})


@bp.route("/password/<token>", methods=["GET", "POST"])
def set_password(token: str) -> WerkzeugResponse | tuple[str, int]:
    """Set a password with a one-time link (public: the user is not signed in)."""
    try:
        email = get_db().run(
            lambda db_session: password_link_user(db_session, token, now=now()).email,
            read_only=True,
        )
    except PasswordLinkRefused as refused:
        return _link_refused(refused)
    if request.method == "GET":
        return render(
            "admin/set_password.html", email=email, errors={}, minimum=MIN_PASSWORD_LENGTH
        )
    password = request.form.get("password") or ""
    if password != (request.form.get("confirm") or ""):
        errors = {"confirm": i18n.gettext("The two passwords differ.")}
        return render(
            "admin/set_password.html", 400, email=email, errors=errors, minimum=MIN_PASSWORD_LENGTH
        )
    try:
        get_db().run(
            lambda db_session: redeem_password_link(db_session, token, password, now=now())
        )
    except PasswordLinkRefused as refused:
        return _link_refused(refused)
    except ConnectorError as exc:
        return render(
            "admin/set_password.html",
            exc.http_status,
            email=email,
            errors=error_fields(exc),
            minimum=MIN_PASSWORD_LENGTH,
        )
    flash(i18n.gettext("Your password is set: sign in with it."), "success")
    return redirect(url_for("admin.login"))


# The user's own page: the second factor


def _totp_issuer() -> str:
    return i18n.gettext("Customer Credit")


def _me_page(status: int = 200, error: str | None = None) -> tuple[str, int]:
    user = current_staff()
    assert user is not None
    enrol: dict[str, Any] | None = None
    if not user.has_second_factor:
        secret = session.get(_ENROL)
        if not isinstance(secret, str):
            secret = new_totp_secret()
            session[_ENROL] = secret
        uri = totp_uri(secret, user.email, _totp_issuer())
        title = i18n.gettext("QR code for your authenticator app")
        enrol = {
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            # Our own SVG, made by segno: safe to put in the page.
            "qr": Markup(pix.qr_svg(uri, title=title)),  # noqa: S704
        }
    return render("admin/me.html", status, user=user, enrol=enrol, error=error)


@bp.get("/me")
def me() -> tuple[str, int]:
    return _me_page()


@bp.post("/me/second-factor")
@needs("")  # every role may protect their own sign-in
def enrol_second_factor() -> WerkzeugResponse | tuple[str, int]:
    user = current_staff()
    assert user is not None
    secret = session.get(_ENROL)
    if not isinstance(secret, str) or user.has_second_factor:
        return redirect(url_for("admin.me"))
    code = request.form.get("code") or ""
    secret_key = current().secret_key
    try:
        get_db().run(
            lambda db_session: confirm_totp(
                db_session, user.id, secret, code, secret_key=secret_key, now=now()
            )
        )
    except ConnectorError:
        return _me_page(400, i18n.gettext("Wrong code: enter the 6 digits your app shows now."))
    session.pop(_ENROL, None)
    flash(
        i18n.gettext("Second factor on: signing in now asks for a code from your app."), "success"
    )
    return redirect(url_for("admin.me"))


# Signing in, second step


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> WerkzeugResponse | tuple[str, int]:
    """After the password, the code of a user with a second factor; then signed in."""
    held = second_step()
    if held is None:
        flash(i18n.gettext("Sign in again: the time to enter the code ran out."), "info")
        return redirect(url_for("admin.login"))
    user_id, epoch, target = held
    if request.method == "GET":
        return render("admin/login_code.html")
    code = request.form.get("code") or ""
    secret_key = current().secret_key
    moment = now()

    def check(db_session: Session) -> tuple[StaffUser | None, bool]:
        right = verify_totp(db_session, user_id, code, secret_key=secret_key, now=moment)
        user = db_session.get(StaffUser, user_id)
        return (user if right else None), user is not None and totp_locked(user, moment)

    user, locked = get_db().run(check)
    if user is not None and user.disabled_at is None and user.session_epoch == epoch:
        sign_in_staff(user)
        return redirect(target)
    if locked:
        drop_second_step()
        minutes = int(TOTP_LOCKOUT.total_seconds() // 60)
        message = i18n.gettext(
            "Too many wrong codes: wait {minutes} minutes, then sign in again.", minutes=minutes
        )
        flash(message, "error")
        return redirect(url_for("admin.login"))
    error = i18n.gettext("Wrong code: enter the 6 digits your app shows now.")
    return render("admin/login_code.html", 401, error=error)
