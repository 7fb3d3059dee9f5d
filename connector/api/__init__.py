"""The /api/creditcontrol REST API, compatible with the public Customer Credit API."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException


def init_app(app: Flask) -> None:
    """Register the API's routes, its OpenAPI document and its error shape for HTTP errors."""
    # Imported here: the route modules use connector.app, which imports this package.
    from connector.api import accounts, invoices, openapi, storeconfig, transactions
    from connector.api.routes import bp

    del accounts, invoices, storeconfig, transactions  # imported for their routes
    app.register_blueprint(bp)
    openapi.init_app(app)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> HTTPException | tuple[Response, int]:
        # Unknown paths, wrong methods and oversized bodies under /api/ answer in the
        # API's JSON error shape; every other page keeps Flask's own rendering.
        if not request.path.startswith("/api/") or error.code is None:
            return error
        code = (error.name or "error").lower().replace(" ", "_")
        body = {"code": code, "message": error.description or error.name}
        return jsonify({"error": body}), error.code
