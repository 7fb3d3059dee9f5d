"""The merchant's browser in the checkout platform's configuration flow: the platform's link,
the admin's own sign-in, then a page asking to allow or deny the connection.

The flow's rules are ``connector.access.connections``'s; the platform's server calls are
the protocol edge's (``connector.protocol.onboarding``). The link's token is used up when
it is opened: from then on the connection waits in this browser's signed session, which
sign-in keeps (``connector.web.auth.hold_consent``).
"""

from __future__ import annotations

from flask import Blueprint, abort, make_response, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from connector.access.connections import (
    decide,
    open_link,
    require_key_manager,
    waiting_consent,
)
from connector.context import get_db, now
from connector.errors import Code, ValidationError
from connector.web.auth import (
    check_csrf,
    current_staff,
    drop_consent,
    held_consent,
    hold_consent,
    staff_required,
)
from connector.web.pages import (
    CONTENT_SECURITY_POLICY,
    refuse_unstorable,
    register_error_pages,
    render,
    secure_headers,
)

bp = Blueprint("consent", __name__)
register_error_pages(bp)


@bp.before_request
def _guard() -> None:
    check_csrf()
    refuse_unstorable()


bp.after_request(secure_headers)


def _page() -> WerkzeugResponse:
    """The admin's sign-in while nobody is signed in; then the question, for a staff user
    who may manage keys."""
    moment = now()
    held = held_consent()
    # Not a read-only snapshot: its rollback would expire the row the page shows.
    connection = get_db().run(lambda session: waiting_consent(session, held, now=moment))
    user = current_staff()
    if user is None:
        body, status = render(
            "admin/login.html",
            next=url_for("consent.ask"),
            email="",
            application=connection.application_id,
        )
        return make_response(body, status)
    require_key_manager(user)
    body, status = render("admin/consent.html", connection=connection, user=user)
    response = make_response(body, status)
    # The answer to the decision redirects the form to the platform: the page's policy
    # lets the form go there (browsers check form-action on that redirect too).
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {connection.return_origin}", 1
    )
    return response


@bp.get("/authorization/redirect")
def open_platform_link() -> WerkzeugResponse:
    """The platform sends the merchant here with its token: use it up, then ask (the
    document's 200, at this very URL)."""
    application_id = request.args.get("applicationId", "").strip()
    token = request.args.get("token", "").strip()
    if not application_id or not token:
        raise ValidationError(
            "the link lacks its applicationId or token", code=Code.AUTHORIZATION_TOKEN_INVALID
        )
    moment = now()
    held = held_consent()
    connection = get_db().run(
        lambda session: open_link(
            session, application_id=application_id, token=token, held=held, now=moment
        )
    )
    hold_consent(connection.id)
    return _page()


@bp.get("/authorization/consent")
def ask() -> WerkzeugResponse:
    """Where sign-in comes back to: the question again."""
    return _page()


@bp.post("/authorization/consent")
def answer() -> WerkzeugResponse:
    """Back to the platform: with an authorization code, or with ``error=access_denied``."""
    signed_out = staff_required()
    if signed_out is not None:
        return signed_out
    user = current_staff()
    assert user is not None
    choice = request.form.get("decision")
    if choice not in ("allow", "deny"):
        abort(400)
    moment = now()
    held = held_consent()
    target = get_db().run(
        lambda session: decide(session, held, user, allow=choice == "allow", now=moment)
    )
    drop_consent()
    return redirect(target, code=303)
