"""The /api/creditcontrol REST API, compatible with the public Customer Credit API."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from connector.api import accounts, bulk, invoices, openapi, storeconfig, transactions
from connector.api.routes import bp
from connector.errors import Code, ConnectorError

log = logging.getLogger(__name__)

# The route modules declare their operations on ``bp`` when imported.
ROUTES = (accounts, bulk, invoices, storeconfig, transactions)


def init_app(app: Flask) -> None:
    """Register the API's routes, its OpenAPI document and its error shape.

    The error handlers are the app's defaults: the protocol and the pages register their
    own shapes on their blueprints.
    """
    app.register_blueprint(bp)
    openapi.init_app(app)

    @app.errorhandler(ConnectorError)
    def _connector_error(error: ConnectorError) -> tuple[Response, int]:
        return jsonify({"error": error.to_dict()}), error.http_status

    @app.errorhandler(IntegrityError)
    def _integrity_error(error: IntegrityError) -> tuple[Response, int]:
        # A unique constraint lost a race that the service's own checks could not see.
        log.info("integrity conflict: %s", error.orig)
        body = {"code": Code.CONFLICT, "message": "the request conflicts with a concurrent change"}
        return jsonify({"error": body}), 409

    @app.errorhandler(OperationalError)
    def _operational_error(error: OperationalError) -> tuple[Response, int]:
        log.exception("database unavailable")
        body = {"code": Code.DATABASE_UNAVAILABLE, "message": "the database is unavailable"}
        return jsonify({"error": body}), 503

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Any:
        # Unknown paths, wrong methods, oversized bodies and unhandled failures (a 500)
        # under /api/ answer in the API's JSON error shape; any other URL gets the
        # pages' error page (``connector.web`` registers it) in the visitor's language.
        if not request.path.startswith("/api/") or error.code is None:
            page = current_app.extensions.get("connector.error_page")
            return page(error) if page is not None else error
        code = (error.name or "error").lower().replace(" ", "_")
        body = {"code": code, "message": error.description or error.name}
        return jsonify({"error": body}), error.code
