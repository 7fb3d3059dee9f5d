"""API keys from the admin: created with a name and a role (the token shown once, only its
hash kept), listed with who made them and their last use, revoked. The same services as
``connector keys``."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from connector.access.keys import ROLES, IssuedKey, create_key, list_keys, revoke_key
from connector.access.principals import MANAGE_KEYS
from connector.access.users import require
from connector.context import get_db
from connector.errors import ConnectorError
from connector.web import i18n
from connector.web.admin.base import bp, needs
from connector.web.auth import current_staff
from connector.web.messages import error_fields, error_message
from connector.web.pages import render


def key_roles() -> list[tuple[str, str]]:
    """Each API role and what it may, in the page's language."""
    names = {
        "admin": i18n.gettext("admin: everything"),
        "accounts": i18n.gettext("accounts: read; accounts, holders, limits and statements"),
        "invoices": i18n.gettext("invoices: read; pay, cancel, change and import invoices"),
        "read": i18n.gettext("read: read only"),
        "gateway": i18n.gettext("gateway: the payment provider protocol only"),
    }
    return [(role, names[role]) for role in ROLES]


def _page(
    status: int = 200,
    *,
    issued: IssuedKey | None = None,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> tuple[str, int]:
    user = current_staff()
    assert user is not None  # the admin's guard saw to it
    require(user, MANAGE_KEYS)  # the list names every key: an admin's page
    rows = get_db().run(list_keys)  # rows a snapshot's rollback would expire
    return render(
        "admin/keys.html",
        status,
        rows=rows,
        roles=key_roles(),
        issued=issued,
        error=error,
        errors=errors or {},
        values=values or {"label": "", "role": "read"},
    )


@bp.get("/keys")
def keys() -> tuple[str, int]:
    return _page()


@bp.post("/keys")
@needs(MANAGE_KEYS)
def create_api_key() -> tuple[str, int]:
    user = current_staff()
    assert user is not None
    values = {
        "label": (request.form.get("label") or "").strip()[:200],
        "role": request.form.get("role") or "",
    }
    if not values["label"]:
        errors = {"label": i18n.gettext("Name the key: who or what uses it.")}
        return _page(
            400,
            error=i18n.gettext("Please correct the fields marked below."),
            errors=errors,
            values=values,
        )

    def create(session: Session) -> IssuedKey:
        return create_key(session, role=values["role"], label=values["label"], by=user.email)

    try:
        issued = get_db().run(create)
    except ConnectorError as exc:
        return _page(
            exc.http_status, error=error_message(exc), errors=error_fields(exc), values=values
        )
    # Shown in this answer only: the token is not stored and never shown again.
    return _page(201, issued=issued)


@bp.post("/keys/<app_key>/revoke")
@needs(MANAGE_KEYS)
def revoke_api_key(app_key: str) -> WerkzeugResponse | tuple[str, int]:
    try:
        get_db().run(lambda session: revoke_key(session, app_key))
    except ConnectorError as exc:
        return _page(exc.http_status, error=error_message(exc))
    flash(
        i18n.gettext("Key {key} revoked: it is refused from the next request on.", key=app_key),
        "success",
    )
    return redirect(url_for("admin.keys"))
