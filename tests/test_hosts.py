"""A request naming a host the operator did not name is refused before any edge: no link
the service hands out can point at someone else's site."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import select

from connector.clock import FixedClock
from connector.context import of
from connector.credit.settings import update_store_settings
from connector.db import Database
from connector.notify.outbox import OutboxMail
from tests.conftest import make_app
from tests.factories import ADMIN_KEY, ADMIN_TOKEN, Seeded

HEADERS = {"X-VTEX-API-AppKey": ADMIN_KEY, "X-VTEX-API-AppToken": ADMIN_TOKEN}


def test_another_host_is_refused_on_every_edge(client: FlaskClient) -> None:
    for method, path in (
        ("GET", "/manifest"),
        ("POST", "/payments"),
        ("GET", "/api/creditcontrol/accounts"),
        ("GET", "/admin/login"),
        ("POST", "/mycredits/signin"),
    ):
        refused = client.open(path, method=method, headers={**HEADERS, "Host": "evil.example"})
        assert refused.status_code == 400, path
        assert b"host" in refused.data
    assert client.get("/manifest", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    # Probes build no link and name an address, not the service: any host (tests/test_ops.py).
    assert client.get("/health", headers={"Host": "evil.example"}).status_code == 200


def test_links_take_the_public_url_or_an_allowed_host(
    db: Database, tmp_path: Path, clock: FixedClock, seed: Callable[..., Seeded]
) -> None:
    seed(email="me@shop.example")
    app = make_app(
        db,
        tmp_path / "instance",
        clock,
        allowed_hosts=("connector.internal", "credit.store.example"),
    )
    try:
        with db.transaction() as session:
            update_store_settings(session, {"my_credits_enabled": True})
        client = app.test_client()
        refused = client.post("/mycredits/signin", headers={"Host": "evil.example"})
        assert refused.status_code == 400
        page = client.get("/mycredits/signin", headers={"Host": "credit.store.example"})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        client.post(
            "/mycredits/signin",
            data={"csrf_token": token.group(1), "email": "me@shop.example"},
            headers={"Host": "credit.store.example"},
        )
        with db.transaction() as session:
            [mail] = session.scalars(select(OutboxMail)).all()
        assert "http://credit.store.example/mycredits/signin/" in mail.body
        assert "evil.example" not in mail.body
    finally:
        of(app).db.dispose()
