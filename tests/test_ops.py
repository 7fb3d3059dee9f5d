"""What operators, load balancers and Prometheus ask: /health, /ready, /metrics, and the
request id and access line of every request."""

from __future__ import annotations

import base64
import io
import logging
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from connector import logs
from connector.bulk.runner import run_import, start_file_import
from connector.clock import FixedClock, utcnow
from connector.context import of
from connector.db import Database
from connector.heartbeat import STALE_AFTER, beat
from connector.migrate import upgrade
from connector.notify.outbox import queue_mail
from tests.conftest import Post, make_app
from tests.factories import TESTSUITE, Seeded, card_body, payment_body

ASYNC_APPROVE = "4222222222222224"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything logged during the test, as the service writes it (restored after)."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    quiet = {name: logging.getLogger(name).level for name in (*logs.QUIET, "_granian")}
    stream = io.StringIO()
    logs.configure("DEBUG", "logfmt", stream)
    yield stream
    root.handlers[:], root.level = saved
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)


def scrape(
    client: FlaskClient, headers: dict[str, str]
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The /metrics answer as {(sample name, labels): value}."""
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# --- /health and /ready ------------------------------------------------------------------


def test_health_answers_without_the_database_and_ready_says_it_is_gone(
    tmp_path: Path, clock: FixedClock
) -> None:
    unreachable = Database("postgresql+psycopg://nobody:secret@127.0.0.1:1/nothing")
    app = make_app(unreachable, tmp_path / "instance", clock, express_authorization=False)
    client = app.test_client()
    assert client.get("/health").json == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json is not None and ready.json["checks"]["database"]["ok"] is False
    assert "secret" not in ready.text
    of(app).db.dispose()
    unreachable.dispose()


def test_ready_needs_a_recent_scheduler_beat_where_this_server_runs_one(
    db: Database, tmp_path: Path, clock: FixedClock
) -> None:
    app = make_app(db, tmp_path / "instance", clock, scheduler_enabled=True)
    client = app.test_client()
    never = client.get("/ready")
    assert never.status_code == 503 and never.json is not None
    assert never.json["checks"]["database"] == {"ok": True}
    assert never.json["checks"]["migrations"]["ok"] is True
    assert never.json["checks"]["scheduler"]["ok"] is False
    assert never.json["checks"]["scheduler"]["lastBeatAgeSeconds"] is None

    started = utcnow() - timedelta(hours=1)
    with db.transaction() as session:
        beat(session, started_at=started, now=utcnow() - STALE_AFTER + timedelta(seconds=5))
    fresh = client.get("/ready")
    assert fresh.status_code == 200, fresh.json
    assert fresh.json is not None and fresh.json["status"] == "ok"

    with db.transaction() as session:  # the same machine beats again: one row, updated
        beat(session, started_at=started, now=utcnow() - STALE_AFTER - timedelta(seconds=5))
    stale = client.get("/ready")
    assert stale.status_code == 503 and stale.json is not None
    assert stale.json["checks"]["scheduler"]["lastBeatAgeSeconds"] > STALE_AFTER.total_seconds()

    # A server that runs no scheduler (one runs elsewhere) shows the age, not requires it.
    web_only = make_app(db, tmp_path / "instance", clock, scheduler_enabled=False)
    answer = web_only.test_client().get("/ready")
    assert answer.status_code == 200 and answer.json is not None
    assert answer.json["checks"]["scheduler"]["required"] is False
    for built in (app, web_only):
        of(built).db.dispose()


def test_ready_refuses_a_database_behind_this_versions_schema(
    tmp_path: Path, clock: FixedClock
) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0011")
    old = Database(url)
    app = make_app(old, tmp_path / "instance", clock)
    answer = app.test_client().get("/ready")
    assert answer.status_code == 503 and answer.json is not None
    migrations = answer.json["checks"]["migrations"]
    assert migrations["ok"] is False and migrations["current"] == ["0011"]
    assert answer.json["checks"]["database"]["ok"] is True
    of(app).db.dispose()
    old.dispose()


def test_probes_answer_whatever_host_is_named(client: FlaskClient) -> None:
    for path in ("/health", "/ready"):
        assert client.get(path, headers={"Host": "10.0.3.7:8000"}).status_code == 200, path
    assert client.get("/metrics", headers={"Host": "10.0.3.7:8000"}).status_code == 401
    assert client.get("/manifest", headers={"Host": "10.0.3.7:8000"}).status_code == 400


# --- request ids and the access log ------------------------------------------------------


def test_every_answer_carries_a_request_id_that_every_line_of_it_logs(
    client: FlaskClient, captured: io.StringIO, app: Flask, db: Database
) -> None:
    generated = client.get("/manifest").headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{16}", generated)
    assert client.get("/manifest").headers["X-Request-Id"] != generated
    given = client.get("/manifest", headers={"X-Request-Id": "lb-4f2a.9"})
    assert given.headers["X-Request-Id"] == "lb-4f2a.9"
    forged = client.get("/manifest", headers={"X-Request-Id": "x level=error fake"})
    assert re.fullmatch(r"[0-9a-f]{16}", forged.headers["X-Request-Id"])

    token = "s3cr3t-link-token-value"
    client.get(f"/mycredits/link/{token}?from=mail", headers={"X-Request-Id": "req-link"})
    lines = captured.getvalue().splitlines()
    access = [line for line in lines if "event=request" in line]
    assert len(access) == 5, lines
    assert all(line.startswith("ts=") for line in lines)
    mine = next(line for line in access if "request_id=lb-4f2a.9" in line)
    assert "route=/manifest" in mine and "status=200" in mine and "method=GET" in mine
    link = next(line for line in access if "request_id=req-link" in line)
    assert "route=/mycredits/link/<token>" in link
    assert token not in captured.getvalue() and "from=mail" not in captured.getvalue()


def test_a_line_logged_during_a_request_names_its_id(
    app: Flask, client: FlaskClient, captured: io.StringIO
) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("exploded")

    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer a 500, as a served app does

    answer = client.get("/boom", headers={"X-Request-Id": "req-boom"})
    assert answer.status_code == 500
    error = next(line for line in captured.getvalue().splitlines() if "unhandled error" in line)
    assert "request_id=req-boom" in error and "route=/boom" in error
    assert "RuntimeError: exploded" in error  # the traceback, on the same line


def test_probes_that_pass_are_logged_only_at_debug(
    client: FlaskClient, captured: io.StringIO
) -> None:
    client.get("/health")
    line = next(line for line in captured.getvalue().splitlines() if "route=/health" in line)
    assert "level=debug" in line
    client.get("/manifest")
    line = next(line for line in captured.getvalue().splitlines() if "route=/manifest" in line)
    assert "level=info" in line


# --- /metrics ---------------------------------------------------------------------------


def test_metrics_need_a_key_that_may_read(
    client: FlaskClient, headers_for: Callable[[str], dict[str, str]]
) -> None:
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.json == {
        "error": {"code": "unauthorized", "message": "a key with the read role is needed"}
    }
    assert refused.headers["WWW-Authenticate"].startswith("Basic")
    gateway = client.get("/metrics", headers=headers_for("gateway"))
    assert gateway.status_code == 403 and gateway.json is not None
    assert gateway.json["error"]["code"] == "forbidden"
    assert client.get("/metrics", headers=headers_for("read")).status_code == 200
    read = headers_for("read")
    pair = f"{read['X-VTEX-API-AppKey']}:{read['X-VTEX-API-AppToken']}".encode()
    basic = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    assert client.get("/metrics", headers=basic).status_code == 200  # as Prometheus sends it
    wrong = base64.b64encode(read["X-VTEX-API-AppKey"].encode() + b":nope").decode()
    assert client.get("/metrics", headers={"Authorization": "Basic " + wrong}).status_code == 401


def test_requests_are_counted_by_url_rule_and_status_never_by_path(
    client: FlaskClient, admin_headers: dict[str, str], seed: Callable[..., Seeded]
) -> None:
    account = seed().account_id
    rule = "/api/creditcontrol/accounts/<account_id>"
    before = scrape(client, admin_headers)
    assert (
        client.get(f"/api/creditcontrol/accounts/{account}", headers=admin_headers).status_code
        == 200
    )
    assert client.get("/api/creditcontrol/accounts/nope", headers=admin_headers).status_code == 404
    client.get("/no/such/page/with-a-secret-in-it")
    client.open("/manifest", method="BREW")  # a method nobody serves: one label for all
    after = scrape(client, admin_headers)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    total = "connector_http_requests_total"
    assert grew(total, method="GET", route=rule, status="200") == 1
    assert grew(total, method="GET", route=rule, status="404") == 1
    assert grew(total, method="GET", route="unmatched", status="404") == 1
    assert grew("connector_http_request_duration_seconds_count", method="GET", route=rule) == 2
    assert grew(total, method="other", route="unmatched", status="405") == 1
    assert not any(account in str(labels) or "secret" in str(labels) for _n, labels in after)


def test_authorizations_and_credit_are_counted(
    client: FlaskClient,
    admin_headers: dict[str, str],
    post: Post,
    buyer_account: str,
) -> None:
    before = scrape(client, admin_headers)
    approved = post("/payments", payment_body("m1", "150.25"))
    assert approved.json is not None and approved.json["status"] == "approved"
    unknown = payment_body("m2", "10.00")
    unknown["miniCart"]["buyer"]["email"] = "nobody@example.com"
    unknown["miniCart"]["buyer"]["document"] = "98765432100"
    assert post("/payments", unknown).json["status"] == "denied"  # type: ignore[index]
    assert post("/payments", {"paymentId": "m3"}).status_code == 400
    settled = post(
        "/payments/m1/settlements", {"paymentId": "m1", "requestId": "s1", "value": 150.25}
    )
    assert settled.status_code == 200, settled.json
    after = scrape(client, admin_headers)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("connector_authorizations_total", result="approved", code="approved") == 1
    assert grew("connector_authorizations_total", result="denied", code="no_account") == 1
    assert grew("connector_authorizations_total", result="error", code="invalid_request") == 1
    assert grew("connector_credit_reserved_cents_total") == 15_025
    assert grew("connector_credit_settled_cents_total") == 15_025


def test_pending_work_is_read_from_the_database_at_scrape_time(
    client: FlaskClient, admin_headers: dict[str, str], post: Post, db: Database
) -> None:
    samples = scrape(client, admin_headers)
    assert value(samples, "connector_callbacks_pending") == 0
    assert value(samples, "connector_outbox_pending") == 0
    assert value(samples, "connector_scheduler_heartbeat_age_seconds") == -1

    post("/payments", card_body("cb1", ASYNC_APPROVE), TESTSUITE)  # an async answer waits
    with db.transaction() as session:
        for n in range(3):
            queue_mail(
                session,
                to=f"c{n}@example.com",
                subject="s",
                body="b",
                now=utcnow() - timedelta(minutes=2),
            )
        beat(session, started_at=utcnow(), now=utcnow() - timedelta(seconds=30))
    samples = scrape(client, admin_headers)
    assert value(samples, "connector_callbacks_pending") == 1
    assert 0 <= value(samples, "connector_callbacks_oldest_pending_age_seconds") < 60
    assert value(samples, "connector_outbox_pending") == 3
    assert 110 < value(samples, "connector_outbox_oldest_pending_age_seconds") < 200
    assert 29 < value(samples, "connector_scheduler_heartbeat_age_seconds") < 90


def test_import_rows_are_counted_as_their_chunks_commit(
    client: FlaskClient, admin_headers: dict[str, str], db: Database, tmp_path: Path
) -> None:
    rows = "".join(f"c{n}@example.com,1000\n" for n in range(7))
    csv = tmp_path / "accounts.csv"
    csv.write_text("Email,Credit limit\n" + rows)
    before = scrape(client, admin_headers)
    started = start_file_import(
        db, csv, kind="accounts", mode="create", dry_run=False, chunk_size=3
    )
    with csv.open("rb") as stream:
        job = run_import(db, started.job.id, started.token, stream)
    assert job.rows_done == 7
    after = scrape(client, admin_headers)
    grown = value(after, "connector_import_rows_total", kind="accounts") - value(
        before, "connector_import_rows_total", kind="accounts"
    )
    assert grown == 7


def test_the_express_path_is_counted_at_the_edge(
    pg: Database, tmp_path: Path, clock: FixedClock, admin_headers: dict[str, str]
) -> None:
    """On PostgreSQL an approval is answered before Flask, in one statement the ORM never
    sees: the edge counts it, once, from its request (and a repeat, answered by the general
    path, replays what was reserved and reserves nothing)."""
    from connector.credit.accounts import open_account

    with pg.transaction() as session:
        open_account(session, email="buyer@example.com", credit_limit_cents=100_000, now=clock())
    app = make_app(pg, tmp_path / "instance", clock)
    assert "express" in of(app).extras
    client = app.test_client()
    before = scrape(client, admin_headers)
    answer = client.post("/payments", json=payment_body("x1", "99.90"), headers=admin_headers)
    assert answer.json is not None and answer.json["status"] == "approved"
    repeat = client.post("/payments", json=payment_body("x1", "99.90"), headers=admin_headers)
    assert (
        repeat.json is not None and repeat.json["authorizationId"] == answer.json["authorizationId"]
    )
    after = scrape(client, admin_headers)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("connector_authorizations_total", result="approved", code="approved") == 2
    assert grew("connector_credit_reserved_cents_total") == 9_990
    routes = "connector_http_requests_total"
    assert grew(routes, method="POST", route="/payments", status="200") == 2
    of(app).db.dispose()
