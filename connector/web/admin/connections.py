"""The checkout platform's connections: who allowed which application, and its key, revocable."""

from __future__ import annotations

from flask import flash, redirect, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from connector.access.connections import list_connections, revoke_connection
from connector.access.principals import MANAGE_KEYS
from connector.context import get_db, now
from connector.errors import ConnectorError
from connector.web import i18n
from connector.web.admin.base import bp, needs
from connector.web.auth import current_staff
from connector.web.messages import error_message
from connector.web.pages import render


def _page(status: int = 200, error: str | None = None) -> tuple[str, int]:
    user = current_staff()
    rows = get_db().run(list_connections)  # rows a snapshot's rollback would expire
    may_revoke = user is not None and user.may(MANAGE_KEYS)
    return render("admin/connections.html", status, rows=rows, may_revoke=may_revoke, error=error)


@bp.get("/connections")
def connections() -> tuple[str, int]:
    return _page()


@bp.post("/connections/<connection_id>/revoke")
@needs(MANAGE_KEYS)
def connection_revoke(connection_id: str) -> WerkzeugResponse | tuple[str, int]:
    user = current_staff()
    assert user is not None  # the admin's guard saw to it
    moment = now()
    try:
        connection = get_db().run(
            lambda session: revoke_connection(session, connection_id, user, now=moment)
        )
    except ConnectorError as error:
        return _page(error.http_status, error_message(error))
    flash(
        i18n.gettext(
            "Connection revoked: the key {key} is refused from now on.", key=connection.key_id
        ),
        "success",
    )
    return redirect(url_for("admin.connections"))
