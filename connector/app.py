"""The composition root: settings, database, clock, JSON and the edges wired into one app.

This is the one module that imports the edges; nothing imports it but the package's
``create_app``. Each edge registers its own routes from its ``init_app``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask.json.provider import JSONProvider

from connector import api, jsonio, ops, protocol, web
from connector.access.principals import Authenticator
from connector.clock import Clock, utcnow
from connector.config import load_settings
from connector.context import AppContext, install
from connector.db import Database
from connector.hosts import TrustedHosts
from connector.resources import manifest_path
from connector.secrets_store import resolve_secret_key

MAX_JSON_BYTES = 1024 * 1024


class DecimalJSONProvider(JSONProvider):
    """Flask's JSON with ``use_decimal``: a float never carries money in or out."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return jsonio.dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return jsonio.loads(s, **kwargs)


def create_app(overrides: Mapping[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    """Build the application. ``overrides`` replace settings (tests); ``clock`` pins the
    time the edges pass to the services (tests; the system clock otherwise)."""
    settings = load_settings().with_overrides(overrides or {})
    app = Flask("connector", instance_path=str(settings.instance_path))
    app.json = DecimalJSONProvider(app)
    secret_key = resolve_secret_key(settings.secret_key, settings.instance_path)
    app.secret_key = secret_key
    # A JSON request is a few kilobytes; a larger body is a 413. Uploads raise their own
    # limit (bulk.uploads.MAX_UPLOAD_BYTES) where the form is read.
    app.config.update(MAX_CONTENT_LENGTH=MAX_JSON_BYTES)
    db = Database(settings.database_url, prepared_statements=settings.db_prepared_statements)
    install(
        app,
        AppContext(
            settings=settings,
            secret_key=secret_key,
            db=db,
            authenticator=Authenticator(settings, db),
            clock=clock or utcnow,
            manifest=json.loads(manifest_path().read_text()),
        ),
    )
    api.init_app(app)
    protocol.init_app(app)
    web.init_app(app)
    ops.init_app(app)
    # In front of the express entrance too: see connector.hosts.
    app.wsgi_app = TrustedHosts(app.wsgi_app, settings.allowed_hosts)  # type: ignore[method-assign]
    ops.observe(app)  # outermost: request ids, the access log, metrics (connector.ops)
    return app
