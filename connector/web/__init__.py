"""The admin pages for store staff and the My Credits page for customers (server-rendered)."""

from __future__ import annotations

from flask import Flask

from connector.web import admin, consent, mycredits, pages
from connector.web.auth import configure_sessions


def init_app(app: Flask) -> None:
    """Register the web edge: sessions, CSRF, languages, the admin and My Credits pages,
    and the platform's consent page."""
    configure_sessions(app)
    pages.init_templates(app)
    # The page an error shows at any URL outside the API (whose errors are JSON).
    app.extensions["connector.error_page"] = pages.error_page
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(mycredits.bp)
    app.register_blueprint(consent.bp)
