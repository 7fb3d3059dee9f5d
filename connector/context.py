"""What an app holds, and the accessors edges use to reach it during a request.

``connector.app.create_app`` builds one ``AppContext`` and installs it; routes, pages and
their helpers read it through ``get_db``, ``get_settings``, ``get_authenticator`` and
``now``. Nothing imports the factory, so no import circle runs through it (the pattern of
the Flask tutorial's ``db.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from flask import Flask, current_app, request

from connector.access.principals import Authenticator
from connector.clock import Clock
from connector.config import Settings
from connector.db import Database

_KEY = "connector"


@dataclass
class AppContext:
    """The long-lived objects of one app (one per worker process)."""

    settings: Settings
    secret_key: str  # CONNECTOR_SECRET_KEY, or the one generated into the instance folder
    db: Database
    authenticator: Authenticator
    clock: Clock
    manifest: dict[str, Any]
    # Filled by the edges that need them (the express authorizer, the OpenAPI document).
    extras: dict[str, Any] = field(default_factory=dict)
    # What other edges add to the API's OpenAPI document (the protocol's operations), each
    # called with the document's ``APISpec``: edges never import each other.
    openapi_parts: list[Callable[[Any], None]] = field(default_factory=list)


def install(app: Flask, context: AppContext) -> None:
    app.extensions[_KEY] = context


def of(app: Flask) -> AppContext:
    """The context of an app outside a request (tests, the server)."""
    return cast(AppContext, app.extensions[_KEY])


def current() -> AppContext:
    return cast(AppContext, current_app.extensions[_KEY])


def get_db() -> Database:
    return current().db


def get_settings() -> Settings:
    return current().settings


def get_authenticator() -> Authenticator:
    return current().authenticator


def now() -> datetime:
    """The app's clock: the system's, or the one a test pinned."""
    return current().clock()


def public_base_url() -> str:
    """The base of links handed out: ``CONNECTOR_PUBLIC_URL`` when set, else the host the
    request came to."""
    configured = get_settings().public_url
    return configured if configured else request.url_root.rstrip("/")
