"""What an operator or a load balancer asks the service: is it alive."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify
from sqlalchemy.orm import Session

from connector.context import get_db

bp = Blueprint("ops", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.get("/health")
def health() -> Response:
    def ping(session: Session) -> None:
        session.connection().exec_driver_sql("SELECT 1")

    get_db().run(ping, read_only=True)
    return jsonify({"status": "ok"})
