"""The configuration flow's calls from the platform's servers: a token, then credentials.

``connector.access.connections`` holds the flow and why these two calls need no
credentials (the platform has none yet); the merchant's browser, between them, is the web
edge's (``connector.web.consent``). Both answers carry secrets, so neither is cached.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from marshmallow import EXCLUDE, Schema, post_load
from marshmallow import ValidationError as SchemaError
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest

from connector.access.connections import (
    MAX_APPLICATION_ID,
    MAX_RETURN_URL,
    exchange_code,
    issue_token,
)
from connector.access.keys import IssuedKey
from connector.context import get_db, get_settings, now
from connector.errors import Code, ConnectorError, ValidationError
from connector.protocol import schemas
from connector.protocol.routes import bp


class TokenRequestSchema(Schema):
    """``CreateAuthorizationTokenRequest``: read tolerantly, as every gateway message is."""

    class Meta:
        unknown = EXCLUDE

    applicationId = schemas.Text(max_length=MAX_APPLICATION_ID, required=True)
    returnUrl = schemas.Text(max_length=MAX_RETURN_URL, required=True)

    @post_load
    def _check(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        for name in ("applicationId", "returnUrl"):
            if not data.get(name):
                raise SchemaError("required", field_name=name)
        return data


_TOKEN_REQUEST = TokenRequestSchema()


def _secret(body: dict[str, str]) -> Response:
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/authorization/token")
def create_authorization_token() -> Response:
    """``Success5``: a token bound to the application and its ``returnUrl``."""
    try:
        body = request.get_json(force=True)
    except BadRequest:
        raise ValidationError("the body is not valid JSON", code=Code.MALFORMED_JSON) from None
    data = schemas.load(_TOKEN_REQUEST, body)
    moment = now()
    token = get_db().run(
        lambda session: issue_token(
            session,
            application_id=data["applicationId"],
            return_url=data["returnUrl"],
            allowed_hosts=get_settings().onboarding_return_hosts,
            now=moment,
        )
    )
    return _secret({"applicationId": data["applicationId"], "token": token})


@bp.get("/authorization/credentials")
def get_credentials() -> Response:
    """``Success6``: a new key pair for an allowed authorization code, once."""
    application_id = request.args.get("applicationId", "").strip()
    code = request.args.get("authorizationCode", "").strip()
    missing = {
        name: "required"
        for name, value in (("applicationId", application_id), ("authorizationCode", code))
        if not value
    }
    if missing:
        raise ValidationError("missing {names}", fields=missing, names=", ".join(missing))
    moment = now()

    def exchange(session: Session) -> IssuedKey | ConnectorError:
        return exchange_code(session, application_id=application_id, code=code, now=moment)

    result = get_db().run(exchange)
    if isinstance(result, ConnectorError):
        raise result  # after the commit: a reused code's key stays revoked
    return _secret(
        {"applicationId": application_id, "appKey": result.app_key, "appToken": result.app_token}
    )
