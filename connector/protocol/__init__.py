"""The payment provider protocol's edge: routes, wire schemas and the express entrance."""

from __future__ import annotations

from flask import Flask

from connector.context import of
from connector.protocol import onboarding
from connector.protocol.express import ExpressAuthorizer, ExpressEntrance
from connector.protocol.express_operations import ExpressOperations
from connector.protocol.openapi import document_protocol
from connector.protocol.routes import bp

__all__ = ["init_app", "onboarding"]  # onboarding adds the configuration flow's routes to bp


def init_app(app: Flask) -> None:
    """Register the protocol's routes, its part of the OpenAPI document, and on PostgreSQL
    the express entrance (authorizations, settlements, refunds) before Flask."""
    app.register_blueprint(bp)
    context = of(app)
    context.openapi_parts.append(document_protocol)
    if context.db.is_postgresql and context.settings.express_authorization:
        express = ExpressAuthorizer(
            context.db.engine, prepared_statements=context.db.prepared_statements
        )
        context.db.on_dispose(express.close)
        context.extras["express"] = express
        app.wsgi_app = ExpressEntrance(  # type: ignore[method-assign]
            app.wsgi_app,
            express,
            context.authenticator,
            context.clock,
            ExpressOperations(express, context.db.engine),
        )
