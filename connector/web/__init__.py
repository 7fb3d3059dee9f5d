"""The admin pages for store staff and the My Credits page for customers (server-rendered)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the web edge: sessions, CSRF, languages, the admin and My Credits pages."""
    from connector.web import common, mycredits
    from connector.web.admin import bp as admin_bp
    from connector.web.auth import configure_sessions

    configure_sessions(app)
    common.init_templates(app)
    app.register_blueprint(common.bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(mycredits.bp)
