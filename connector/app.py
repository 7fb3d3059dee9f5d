"""The composition root: settings, database, JSON, errors and routes wired into one app."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, cast

from flask import Flask, Response, current_app, jsonify
from sqlalchemy.exc import IntegrityError, OperationalError

from connector.auth import Authenticator
from connector.config import Settings, load_settings
from connector.db import Database
from connector.errors import ConnectorError
from connector.jsonio import DecimalJSONProvider
from connector.resources import manifest_path
from connector.secrets_store import resolve_secret_key

log = logging.getLogger(__name__)


def build_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    settings = load_settings().with_overrides(overrides or {})
    app = Flask("connector", instance_path=str(settings.instance_path))
    app.json = DecimalJSONProvider(app)
    app.config["CONNECTOR_SETTINGS"] = settings
    app.secret_key = resolve_secret_key(settings.secret_key, settings.instance_path)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
    )
    db = Database(settings.database_url)
    app.extensions["connector.db"] = db
    app.extensions["connector.auth"] = Authenticator(settings, db)
    app.extensions["connector.manifest"] = json.loads(manifest_path().read_text())
    _register_errors(app)
    _register_meta(app)
    from connector.bulk import routes as bulk_routes  # imported here: it imports get_db

    bulk_routes.init_app(app)
    return app


def get_db() -> Database:
    return cast(Database, current_app.extensions["connector.db"])


def get_authenticator() -> Authenticator:
    return cast(Authenticator, current_app.extensions["connector.auth"])


def get_settings() -> Settings:
    return cast(Settings, current_app.config["CONNECTOR_SETTINGS"])


def _register_errors(app: Flask) -> None:
    @app.errorhandler(ConnectorError)
    def _connector_error(error: ConnectorError) -> tuple[Response, int]:
        return jsonify({"error": error.to_dict()}), error.http_status

    @app.errorhandler(IntegrityError)
    def _integrity_error(error: IntegrityError) -> tuple[Response, int]:
        # A unique constraint lost a race that the service's own checks could not see.
        log.info("integrity conflict: %s", error.orig)
        body = {"code": "conflict", "message": "the request conflicts with a concurrent change"}
        return jsonify({"error": body}), 409

    @app.errorhandler(OperationalError)
    def _operational_error(error: OperationalError) -> tuple[Response, int]:
        log.exception("database unavailable")
        body = {"code": "database_unavailable", "message": "the database is unavailable"}
        return jsonify({"error": body}), 503


def _register_meta(app: Flask) -> None:
    @app.get("/manifest")
    def manifest() -> Response:
        return jsonify(current_app.extensions["connector.manifest"])

    @app.get("/payment-methods")
    def payment_methods() -> Response:
        methods = current_app.extensions["connector.manifest"]["paymentMethods"]
        return jsonify({"paymentMethods": [m["name"] for m in methods]})

    @app.get("/health")
    def health() -> Response:
        with get_db().transaction() as session:
            session.connection().exec_driver_sql("SELECT 1")
        return jsonify({"status": "ok"})
