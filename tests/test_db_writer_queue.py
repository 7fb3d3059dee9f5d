"""SQLite's writers take turns in this process's queue (``connector.db.WriterQueue``), and
money stays right with many threads and a second process writing at once.

These run on a SQLite file of their own, whatever database the suite runs on: the queue
is SQLite's.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from connector import db as connector_db
from connector.clock import FixedClock
from connector.context import of
from connector.credit.check import find_drift
from connector.credit.models import Account, Reservation
from connector.db import Database, WriterQueue, writer_queue
from connector.migrate import upgrade
from tests import factories
from tests.conftest import make_app
from tests.factories import ADMIN_KEY, ADMIN_TOKEN, payment_body

HEADERS = {"X-VTEX-API-AppKey": ADMIN_KEY, "X-VTEX-API-AppToken": ADMIN_TOKEN}


def _until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('queue') / 'connector.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture
def lite(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    yield database
    with database.engine.begin() as connection:
        for table in ("statement_entries", "payments", "reservations", "holders", "accounts"):
            connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 (our names)
    database.dispose()


@pytest.fixture
def lite_app(lite: Database, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(lite, tmp_path / "instance", FixedClock(factories.NOW))
    yield app
    of(app).db.dispose()


def test_writers_enter_in_the_order_they_came() -> None:
    queue = WriterQueue()
    assert queue.enter(1)
    entered: list[int] = []

    def writer(n: int) -> None:
        assert queue.enter(10)
        entered.append(n)
        queue.leave()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for n, thread in enumerate(threads):
        thread.start()
        _until(lambda n=n: len(queue._waiting) == n + 1)  # type: ignore[misc]
    queue.leave()
    for thread in threads:
        thread.join(10)
    assert entered == list(range(6))


def test_a_writer_waits_for_its_turn_in_the_queue_not_in_sqlite(lite: Database) -> None:
    queue = writer_queue(lite.engine.url.database)
    assert queue is not None
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        with lite.transaction() as session:
            session.execute(text("SELECT 1"))
            holding.set()
            release.wait(10)

    def second() -> None:
        with lite.transaction() as session:
            session.execute(text("SELECT 1"))

    with ThreadPoolExecutor(2) as pool:
        held = pool.submit(first)
        assert holding.wait(10)
        waiting = pool.submit(second)
        # Without the queue the second would be asleep in SQLite's busy handler instead.
        _until(lambda: len(queue._waiting) == 1)
        assert not waiting.done()
        release.set()
        held.result(10)
        waiting.result(10)
    assert not queue._waiting and not queue._held


def test_a_writer_given_no_turn_in_time_fails_as_a_locked_database(
    lite: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connector_db, "BUSY_TIMEOUT_SECONDS", 0.2)
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        with lite.transaction() as session:
            session.execute(text("SELECT 1"))
            holding.set()
            release.wait(10)

    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(first)
        assert holding.wait(10)
        with (
            pytest.raises(OperationalError, match="database is locked"),
            lite.transaction() as session,
        ):
            session.execute(text("SELECT 1"))
        release.set()
        held.result(10)
    with lite.transaction() as session:  # the queue is free again
        session.execute(text("SELECT 1"))


def test_a_failed_begin_or_a_rollback_leaves_the_queue(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connector_db, "BUSY_TIMEOUT_SECONDS", 0.2)
    database = Database(sqlite_url)
    queue = writer_queue(database.engine.url.database)
    assert queue is not None
    try:
        # Another process's writer (a plain connection, not in this queue) holds SQLite's
        # lock: BEGIN IMMEDIATE times out in the busy handler, and must give the turn back.
        other = sqlite3.connect(database.engine.url.database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"), database.transaction() as session:
            session.execute(text("SELECT 1"))
        other.execute("ROLLBACK")
        other.close()
        assert not queue._held
        with pytest.raises(RuntimeError), database.transaction() as session:
            session.execute(text("SELECT 1"))
            raise RuntimeError("the work failed")
        assert not queue._held
        with database.transaction() as session:
            session.execute(text("SELECT 1"))
        assert not queue._held
    finally:
        database.dispose()


def _authorize(app: Flask, payment_ids: list[str], value: str) -> list[tuple[int, Any]]:
    client = app.test_client()
    answers = []
    for payment_id in payment_ids:
        response = client.post("/payments", json=payment_body(payment_id, value), headers=HEADERS)
        answers.append((response.status_code, response.get_json()))
    return answers


def test_many_threads_never_overspend_one_account(lite: Database, lite_app: Flask) -> None:
    with lite.transaction() as session:
        account_id = factories.account(
            session, email="buyer@example.com", document="12345678909", credit_limit_cents=10_000
        ).id
    batches = [[f"p-{t}-{i}" for i in range(4)] for t in range(16)]
    with ThreadPoolExecutor(16) as pool:
        answers = [
            a
            for batch in pool.map(lambda b: _authorize(lite_app, b, "10.00"), batches)
            for a in batch
        ]
    assert {status for status, _ in answers} == {200}
    statuses = [body["status"] for _, body in answers]
    assert statuses.count("approved") == 10  # 10 x 10.00 of a 100.00 limit
    assert statuses.count("denied") == 54
    with lite.transaction(read_only=True) as session:
        account = session.get(Account, account_id)
        assert account is not None and account.reserved_cents == 10_000
        held = session.scalar(
            select(func.sum(Reservation.value_cents)).where(Reservation.account_id == account_id)
        )
        assert held == 10_000
        assert find_drift(session) == []


SECOND_PROCESS = """
import sys
from pathlib import Path

from connector.clock import FixedClock
from connector.db import Database
from tests import factories
from tests.conftest import make_app
from tests.test_db_writer_queue import HEADERS

database = Database(sys.argv[1])
app = make_app(database, Path(sys.argv[2]) / "instance", FixedClock(factories.NOW))
client = app.test_client()
ready, stop = Path(sys.argv[2]) / "ready", Path(sys.argv[2]) / "stop"
done, statuses = 0, set()
while not stop.exists() or done < 20:
    with database.transaction() as session:  # as a command would: an account of its own
        factories.account(session, number=1000 + done, credit_limit_cents=5_000)
    body = factories.payment_body(f"other-{done}", "1.00")
    statuses.add(client.post("/payments", json=body, headers=HEADERS).status_code)
    done += 1
    if done == 1:
        ready.touch()
database.dispose()
print(done, *sorted(statuses))
"""


def test_a_second_process_writing_at_once_never_overspends(
    lite: Database, lite_app: Flask, sqlite_url: str, tmp_path: Path
) -> None:
    """The scheduler or a command writes beside the server: it is not in this process's
    queue, and both still finish, money right (SQLite's lock and busy timeout order them)."""
    with lite.transaction() as session:
        account_id = factories.account(
            session, email="buyer@example.com", document="12345678909", credit_limit_cents=9_000
        ).id
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    other = subprocess.Popen(
        [sys.executable, "-c", SECOND_PROCESS, sqlite_url, str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        _until(lambda: ready.exists() or other.poll() is not None, 60)
        batches = [[f"q-{t}-{i}" for i in range(10)] for t in range(8)]
        with ThreadPoolExecutor(8) as pool:
            answers = [
                a
                for batch in pool.map(lambda b: _authorize(lite_app, b, "1.00"), batches)
                for a in batch
            ]
        still_running = other.poll() is None
        stop.touch()
        out, _ = other.communicate(timeout=60)
    finally:
        if other.poll() is None:
            other.kill()
    assert still_running, "the second process ended before the purchases: no overlap"
    assert other.returncode == 0
    done, *other_statuses = (int(word) for word in out.decode().split())
    assert done >= 20 and other_statuses == [200]
    assert [status for status, _ in answers] == [200] * 80
    with lite.transaction(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 1 + done
        approved = session.scalar(
            select(func.count())
            .select_from(Reservation)
            .where(Reservation.account_id == account_id)
        )
        assert approved == 90  # 80 + at least 20 tried 1.00 each against a 90.00 limit
        buyer = session.get(Account, account_id)
        assert buyer is not None and buyer.reserved_cents == 9_000
        assert find_drift(session) == []


def test_a_forked_worker_starts_with_a_free_queue(lite: Database) -> None:
    """granian forks its workers: a turn held in the parent at that moment is not theirs."""
    database = lite.engine.url.database
    queue = writer_queue(database)
    assert queue is not None and queue.enter(1)
    try:
        child = os.fork()
        if child == 0:  # pragma: no cover (the child's verdict is its exit status)
            fresh = writer_queue(database)
            os._exit(0 if fresh is not queue and fresh is not None and fresh.enter(0.1) else 1)
        _, status = os.waitpid(child, 0)
    finally:
        queue.leave()
    assert os.waitstatus_to_exitcode(status) == 0
