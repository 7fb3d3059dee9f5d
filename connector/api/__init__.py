"""The /api/creditcontrol REST API, compatible with the public Customer Credit API."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException


def load_routes() -> None:
    """Import the route modules, which declare the operations on the blueprint.

    Imported here rather than at the top: they use connector.app, which imports this
    package.
    """
    from connector.api import accounts, bulk, invoices, storeconfig, transactions

    del accounts, bulk, invoices, storeconfig, transactions


def init_app(app: Flask) -> None:
    """Register the API's routes, its OpenAPI document and its error shape for HTTP errors."""
    from connector.api import openapi
    from connector.api.routes import bp

    load_routes()
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
