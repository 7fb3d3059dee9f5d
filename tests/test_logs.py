"""The logs: one line per event, and never a credential, a token, a password or card data,
even at DEBUG."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import responses
from flask.testing import FlaskClient
from sqlalchemy import select

from connector import logs
from connector.access.users import create_user
from connector.clock import utcnow
from connector.config import load_settings
from connector.db import Database
from connector.notify.outbox import OutboxMail
from connector.payments.callbacks import deliver_due_callbacks
from tests.conftest import Post
from tests.factories import TESTSUITE, Seeded, card_body, payment_body
from tests.web.conftest import post_form

CARD, CSC = "4222222222222224", "987"  # the test suite's "undefined, then approved" card
PASSWORD = "horse battery staple 42"


@pytest.fixture
def logged() -> Iterator[Callable[[str, str], io.StringIO]]:
    """Configure the service's logging to a string (restored after the test)."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in (*logs.QUIET, "_granian")}

    def configure(level: str, fmt: str) -> io.StringIO:
        stream = io.StringIO()
        logs.configure(level, fmt, stream)
        return stream

    yield configure
    root.handlers[:], root.level = saved
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_no_secret_is_ever_logged_even_at_debug(
    logged: Callable[[str, str], io.StringIO],
    client: FlaskClient,
    post: Post,
    db: Database,
    tmp_path: Path,
    headers_for: Callable[[str], dict[str, str]],
    seed: Callable[..., Seeded],
    store: Callable[..., None],
    buyer_account: str,
) -> None:
    captured = logged("DEBUG", "logfmt")
    secrets: list[str] = []

    # An issued key, used on the API, on /metrics, and wrongly.
    key = headers_for("admin")
    secrets.append(key["X-VTEX-API-AppToken"])
    assert client.get("/api/creditcontrol/accounts", headers=key).status_code == 200
    assert client.get("/metrics", headers=key).status_code == 200
    wrong = {**key, "X-VTEX-API-AppToken": key["X-VTEX-API-AppToken"] + "x"}
    assert client.get("/api/creditcontrol/accounts", headers=wrong).status_code == 401
    secrets.append(key["X-VTEX-API-AppToken"] + "x")

    # A staff user's password, at sign-in, right and wrong.
    with db.transaction() as session:
        create_user(session, email="staff@store.example", password=PASSWORD, name="S")
    for attempt in (PASSWORD + "!", PASSWORD):
        post_form(client, "/admin/login", {"email": "staff@store.example", "password": attempt})
    secrets.append(PASSWORD)

    # A customer's e-mailed sign-in link, requested and followed.
    store(my_credits_enabled=True)
    seed(email="owner@shop.example")
    other = client.application.test_client()
    assert post_form(other, "/mycredits/signin", {"email": "owner@shop.example"}).status_code in (
        200,
        302,
        303,
    )
    with db.transaction() as session:
        mail = session.scalars(select(OutboxMail).order_by(OutboxMail.created_at)).all()[-1]
    found = re.search(r"/mycredits/signin/(\S+)", mail.body)
    assert found is not None
    link_token = found.group(1)
    secrets.append(link_token)
    other.get(f"/mycredits/signin/{link_token}")
    post_form(other, f"/mycredits/signin/{link_token}")

    # The protocol's card data (test suite), and a live purchase; a callback whose URL
    # carries a signature fails to be delivered and is logged.
    body = card_body("log1", CARD)
    body["card"]["csc"] = CSC
    body["callbackUrl"] = "https://gateway.example.com/callback/log1?X-VTEX-signature=SIGsecret99"
    secrets += [CARD, "SIGsecret99"]
    assert post("/payments", body, TESTSUITE).status_code == 200
    assert post("/payments", payment_body("log2", "12.34")).status_code == 200
    settings = load_settings({"DATABASE_URL": db.url, "CONNECTOR_INSTANCE_PATH": str(tmp_path)})
    with responses.RequestsMock():  # no mock matches: the delivery fails, naming the URL
        deliver_due_callbacks(db, settings, now=utcnow() + timedelta(seconds=5))

    text = captured.getvalue()
    lines = text.splitlines()
    assert len(lines) >= 10 and all(line.startswith("ts=") for line in lines), text
    assert "callback" in text  # the failed delivery was logged, its URL's query masked
    for secret in secrets:
        assert secret not in text, secret
    assert f"csc={CSC}" not in text and f'"{CSC}"' not in text


def test_json_lines_are_one_object_each(
    logged: Callable[[str, str], io.StringIO], client: FlaskClient
) -> None:
    captured = logged("INFO", "json")
    client.get("/manifest", headers={"X-Request-Id": "json-1"})
    try:
        raise ValueError("two\nlines")
    except ValueError:
        logging.getLogger("connector.test").exception("failed")
    lines = captured.getvalue().splitlines()
    records = [json.loads(line) for line in lines]
    request = next(r for r in records if r["event"] == "request")
    assert request["request_id"] == "json-1" and request["route"] == "/manifest"
    assert request["level"] == "info" and request["status"] == 200
    failed = next(r for r in records if r["event"] == "failed")
    assert "ValueError: two\nlines" in failed["exception"]


def test_libraries_stay_quiet_at_debug(logged: Callable[[str, str], io.StringIO]) -> None:
    captured = logged("DEBUG", "logfmt")
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate")
    logging.getLogger("apscheduler.executors.default").info('Running job "_job.<locals>"')
    logging.getLogger("sqlalchemy.engine.Engine").info("INSERT ... ('secret-params',)")
    logging.getLogger("urllib3.connectionpool").debug("POST /cb?sig=x HTTP/1.1 200")
    logging.getLogger("connector.anything").debug("ours at debug")
    text = captured.getvalue()
    assert "ours at debug" in text
    for noise in ("setup plugin", "Running job", "secret-params", "sig=x"):
        assert noise not in text
