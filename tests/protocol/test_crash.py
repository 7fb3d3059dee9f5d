"""Crashes: ``connector serve`` killed with SIGKILL under load, twice, then started again.

The whole process group dies at once (server, workers, scheduler): no shutdown, requests
cut off mid-flight, transactions left open. PostgreSQL keeps what was committed and
nothing else, so after each restart the test holds the connector to this:

- ``connector check`` finds no drift between the accounts' figures and their ledger;
- every answer a client received is what is stored (an approved one with its
  reservation, its authorizationId, tid and nsu);
- a gateway that sends again every create, answered or cut off, gets the stored answer
  and never a second hold: only creates that had left nothing behind are decided anew,
  and a second round of repeats changes nothing at all;
- settlements, refunds and cancellations sent again by their requestIds answer what
  they answered before;
- each account holds exactly its approved purchases not yet settled or cancelled, and
  none has reserved and used more than its limit.

PostgreSQL only: there the express path approves in one statement outside the ORM,
the workers are separate processes, and a killed client's transaction is rolled back by
the server. On SQLite the test is skipped.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select, text

from connector.credit import rules
from connector.credit.check import find_drift
from connector.credit.models import Account, Reservation, ReservationStatus
from connector.db import Database
from connector.payments.answers import payment_response
from connector.payments.models import OperationKind, Payment, PaymentOperation, PaymentStatus
from tests import factories
from tests.factories import payment_body
from tests.server import Server, children, environment, group_members

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

HEADERS = {"X-VTEX-API-AppKey": "gateway", "X-VTEX-API-AppToken": "gateway-token-0123456789"}
CLIENTS = 8  # threads sending requests at once
TWINS = 2  # pairs among them that send the same requests at the same time
ANSWERS_BEFORE_KILL = 300  # answers received in a generation before its server is killed
# Credit limits: tight ones run out, so that some purchases are denied for want of credit.
LIMITS = {
    "tight1@example.com": 30_000,
    "tight2@example.com": 50_000,
    "tight3@example.com": 90_000,
    "wide1@example.com": 100_000_000,
    "wide2@example.com": 100_000_000,
}
NO_ACCOUNT = "nobody@example.com"  # denied: no_account, by the general path
SETTLE, REFUND, CANCEL = "settlements", "refunds", "cancellations"


@dataclass
class Sent:
    """One request a client sent, and what it got: an answer, or none (``error``)."""

    path: str
    body: dict[str, Any]
    status: int | None = None
    answer: Any = None
    error: str | None = None

    @property
    def payment_id(self) -> str:
        return str(self.body["paymentId"])


@dataclass
class Stored:
    """What the database holds, read in one transaction."""

    answers: dict[str, dict[str, Any]]  # paymentId -> payment_response of the stored row
    payments: dict[str, tuple[str, str | None, str | None, int, bool]]
    reservations: dict[str, tuple[str, str, int, int]]  # id -> account, status, held, auth
    accounts: dict[str, tuple[int, int, int, int]]  # id -> limit, balance, reserved, tolerance
    settled: set[str] = field(default_factory=set)  # paymentIds with a stored settlement
    operations: set[str] = field(default_factory=set)  # requestIds of stored operations

    def holds(self) -> tuple[int, dict[str, int]]:
        """How many reservations, and each account's reserved total."""
        return len(self.reservations), {a: f[2] for a, f in self.accounts.items()}


class Progress:
    def __init__(self) -> None:
        self.answers = 0
        self.lock = threading.Lock()

    def answered(self) -> None:
        with self.lock:
            self.answers += 1


def send(http: requests.Session, base: str, path: str, body: dict[str, Any]) -> Sent:
    sent = Sent(path, body)
    try:
        response = http.post(base + path, json=body, headers=HEADERS, timeout=10)
    except requests.RequestException as error:
        sent.error = f"{type(error).__name__}: {error}"
        return sent
    sent.status = response.status_code
    try:
        sent.answer = response.json()
    except ValueError:
        sent.answer = response.text
    return sent


def cents_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def purchase(payment_id: str, email: str, value_cents: int, installments: int) -> dict[str, Any]:
    body = payment_body(payment_id, cents_text(value_cents), installments=installments)
    body["miniCart"]["buyer"]["email"] = email
    body["miniCart"]["buyer"]["document"] = None
    return body


def client(
    base: str,
    name: str,
    stop: threading.Event,
    log: list[Sent],
    progress: Progress,
    twin: threading.Barrier | None = None,
) -> None:
    """Buy, and now and then settle, settle and refund, cancel, or send a create again;
    each request waits for the answer before it, and the first one cut off ends the run.

    Twins (two clients of one ``name`` and one ``twin`` barrier) send the same requests,
    each create at the same moment: the gateway's repeats racing their originals. They
    connect anew for each request, so that twins meet in different workers as often as
    in the same one (the others keep their connection alive, as the gateway does).
    """
    rng = random.Random(name)
    emails = [*LIMITS, NO_ACCOUNT]
    kept = requests.Session()

    def post(path: str, body: dict[str, Any]) -> Sent | None:
        with requests.Session() if twin is not None else nullcontext(kept) as http:
            sent = send(http, base, path, body)
        log.append(sent)
        if sent.status is None:
            if twin is not None:
                twin.abort()  # the other twin stops too, at its next create
            return None
        progress.answered()
        return sent

    for n in range(1, 100_000):
        if stop.is_set():
            return
        if twin is not None:
            try:
                twin.wait()
            except threading.BrokenBarrierError:
                return
        value = rng.randint(1_000, 25_000)
        body = purchase(f"{name}-{n}", rng.choice(emails), value, rng.choice((1, 1, 2, 3)))
        created = post("/payments", body)
        if created is None:
            return
        if rng.random() < 0.1 and post("/payments", body) is None:  # a repeat
            return
        if created.status != 200 or created.answer.get("status") != PaymentStatus.APPROVED:
            continue
        path = f"/payments/{body['paymentId']}/"
        roll = rng.random()
        if roll < 0.2:
            steps = [(SETTLE, {"value": body["value"]})]
        elif roll < 0.35:
            steps = [(SETTLE, {}), (REFUND, {"value": cents_text(rng.randint(1, value))})]
        elif roll < 0.55:
            steps = [(CANCEL, {})]
        else:
            steps = []
        for i, (kind, extra) in enumerate(steps):
            request = {"paymentId": body["paymentId"], "requestId": f"{name}-{n}-{i}", **extra}
            if post(path + kind, request) is None:
                return


def load_and_kill(server: Server, generation: int) -> list[Sent]:
    """Clients in threads until ``ANSWERS_BEFORE_KILL`` answers, then SIGKILL the group."""
    stop, progress = threading.Event(), Progress()
    names = [f"g{generation}c{i}" for i in range(CLIENTS - 2 * TWINS)]
    twins = [threading.Barrier(2, timeout=10) for _ in range(TWINS)]
    logs: dict[str, list[Sent]] = {}
    threads: dict[str, threading.Thread] = {}
    for i in range(CLIENTS):
        twin = twins[(i - len(names)) // 2] if i >= len(names) else None
        name = names[i] if twin is None else f"g{generation}t{(i - len(names)) // 2}"
        key = f"{name}/{i}"
        logs[key] = []
        threads[key] = threading.Thread(
            target=client, args=(server.base, name, stop, logs[key], progress, twin)
        )
    for thread in threads.values():
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while progress.answers < ANSWERS_BEFORE_KILL:
            assert time.monotonic() < deadline, f"too few answers:\n{server.output()}"
            for key, thread in threads.items():
                assert thread.is_alive(), f"{key} stopped before the kill: {logs[key][-1:]}"
            time.sleep(0.005)
        # The whole group dies: the server, its two workers and the scheduler.
        group = set(group_members(server.process.pid))
        processes = {server.process.pid, *children(server.process.pid)}
        assert processes <= group and len(processes) == 4, (processes, group)
    finally:
        server.kill()
        stop.set()
        for barrier in twins:
            barrier.abort()
        for thread in threads.values():
            thread.join(timeout=30)
    assert server.process.returncode == -signal.SIGKILL
    assert not any(thread.is_alive() for thread in threads.values())
    return [sent for log in logs.values() for sent in log]


def read_stored(db: Database) -> Stored:
    with db.transaction() as session:
        payments = session.scalars(select(Payment)).all()
        stored = Stored(
            answers={p.payment_id: payment_response(p) for p in payments},
            payments={
                p.payment_id: (
                    p.status,
                    p.account_id,
                    p.reservation_id,
                    p.value_cents,
                    p.cancelled_at is not None,
                )
                for p in payments
            },
            reservations={
                r.id: (r.account_id, r.status, r.value_cents, r.authorized_cents)
                for r in session.scalars(select(Reservation))
            },
            accounts={
                a.id: (a.credit_limit_cents, a.balance_cents, a.reserved_cents, a.tolerance_bps)
                for a in session.scalars(select(Account))
            },
            settled=set(
                session.scalars(
                    select(PaymentOperation.payment_id).where(
                        PaymentOperation.kind == OperationKind.SETTLE,
                        PaymentOperation.http_status == 200,
                    )
                )
            ),
        )
        stored.operations = set(session.scalars(select(PaymentOperation.request_id)))
        assert find_drift(session) == []
    return stored


def assert_holds_add_up(stored: Stored) -> None:
    """Each account holds exactly its approved purchases not yet settled or cancelled, each
    reservation belongs to one approved payment, and no account spent beyond its limit."""
    expected: dict[str, int] = defaultdict(int)
    owners: Counter[str] = Counter()
    for payment_id, (status, account_id, reservation_id, value, cancelled) in sorted(
        stored.payments.items()
    ):
        if status != PaymentStatus.APPROVED:
            assert reservation_id is None, payment_id
            continue
        assert account_id is not None and reservation_id is not None, payment_id
        owners[reservation_id] += 1
        held_by, state, held, authorized = stored.reservations[reservation_id]
        assert (held_by, authorized) == (account_id, value), payment_id
        if cancelled or payment_id in stored.settled:
            assert state != ReservationStatus.PENDING and held == 0, payment_id
        else:
            assert (state, held) == (ReservationStatus.PENDING, value), payment_id
            expected[account_id] += value
    assert set(owners) == set(stored.reservations), "a reservation without its payment"
    assert set(owners.values()) <= {1}
    for account_id, (limit, balance, reserved, tolerance) in stored.accounts.items():
        assert reserved == expected[account_id], account_id
        assert rules.spending_power(limit, balance, reserved, tolerance, False) >= 0, account_id


def check_command(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "connector.cli", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "connector check: no drift" in result.stdout


def key_of(sent: Sent) -> str:
    """What makes a request the same request: a create's paymentId, an operation's path
    and requestId."""
    if sent.path == "/payments":
        return "create " + sent.payment_id
    return f"{sent.path} {sent.body['requestId']}"


def replay(base: str, requests_sent: list[Sent]) -> dict[str, tuple[int | None, Any]]:
    """Send again, one after another, each distinct request: key -> (status, answer)."""
    http = requests.Session()
    answers: dict[str, tuple[int | None, Any]] = {}
    for sent in requests_sent:
        key = key_of(sent)
        if key not in answers:
            again = send(http, base, sent.path, sent.body)
            assert again.status is not None, again.error
            answers[key] = (again.status, again.answer)
    return answers


def remember(told: dict[str, Any], answers: dict[str, tuple[int | None, Any]]) -> None:
    """Add what was answered to what the clients were told; the same request, the same
    answer."""
    for key, answer in answers.items():
        assert told.setdefault(key, answer) == answer, f"{key}: {answer} after {told[key]}"


def verify(
    db: Database, env: dict[str, str], server: Server, sent: list[Sent], told: dict[str, Any]
) -> dict[str, int]:
    """Everything the module's docstring promises, after a restart. ``told`` holds what
    the clients were told so far, by request (``key_of``); it grows with the replays."""
    check_command(env)
    crashed = read_stored(db)
    assert_holds_add_up(crashed)

    creates = [s for s in sent if s.path == "/payments"]
    operations = [s for s in sent if s.path != "/payments"]
    for s in sent:
        if s.status is None:
            continue
        assert s.status == 200, (s.path, s.body, s.answer)
        remember(told, {key_of(s): (s.status, s.answer)})
        if s.path == "/payments":
            stored = crashed.answers.get(s.payment_id)
            assert stored == s.answer, f"told {s.answer}, stored {stored}"

    # Every create again: the stored answer for each payment stored, and no new hold but
    # for the payments decided now (creates cut off before anything was committed).
    first = replay(server.base, creates)
    after = read_stored(db)
    decided_now = {s.payment_id for s in creates if s.payment_id not in crashed.answers}
    for s in creates:
        status, answer = first[key_of(s)]
        assert status == 200, (s.payment_id, answer)
        assert answer == after.answers[s.payment_id], s.payment_id
        if s.payment_id in crashed.answers:
            assert answer == crashed.answers[s.payment_id], s.payment_id
    remember(told, first)
    count, reserved = crashed.holds()
    for payment_id in decided_now:
        status_now, account_id, _, value, _ = after.payments[payment_id]
        if status_now == PaymentStatus.APPROVED:
            assert account_id is not None
            count += 1
            reserved[account_id] += value
    assert after.holds() == (count, reserved), "a create sent again reserved again"
    assert set(after.answers) == set(crashed.answers) | decided_now

    # Settlements, refunds and cancellations again, by requestId: the same answers.
    replayed = replay(server.base, operations)
    assert {status for status, _ in replayed.values()} <= {200}, replayed
    remember(told, replayed)
    settled = read_stored(db)
    assert_holds_add_up(settled)

    # A second round of everything changes nothing and answers the same.
    assert replay(server.base, creates) == first
    assert replay(server.base, operations) == replayed
    assert read_stored(db).holds() == settled.holds()
    return {"stored_when_killed": len(crashed.answers), "decided_by_replay": len(decided_now)}


def wait_for_backends_to_end(db: Database, application_name: str) -> None:
    """Until PostgreSQL has ended every session of the killed processes: a killed client's
    open transaction is rolled back when its server process notices the closed socket."""
    deadline = time.monotonic() + 20
    while True:
        with db.transaction() as session:
            left = session.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": application_name},
            )
        if not left:
            return
        assert time.monotonic() < deadline, f"{left} sessions of {application_name} still open"
        time.sleep(0.05)


@pytest.fixture
def postgresql_db(db: Database) -> Iterator[Database]:
    if not db.is_postgresql:
        pytest.skip(
            "crash test: PostgreSQL only (set TEST_DATABASE_URL to a PostgreSQL database); "
            "the express path and the rollback of killed sessions are PostgreSQL's"
        )
    yield db


def test_killed_twice_under_load_loses_nothing_and_never_reserves_twice(
    postgresql_db: Database, tmp_path: Path
) -> None:
    db = postgresql_db
    with db.transaction() as session:
        for n, (email, limit) in enumerate(LIMITS.items(), start=1):
            factories.account(session, number=n, email=email, credit_limit_cents=limit)

    servers: list[Server] = []

    def start(generation: int) -> tuple[Server, dict[str, str]]:
        env = environment(
            db,
            tmp_path,
            CONNECTOR_APP_KEY=HEADERS["X-VTEX-API-AppKey"],
            CONNECTOR_APP_TOKEN=HEADERS["X-VTEX-API-AppToken"],
            PGAPPNAME=f"connector-crash-{generation}",  # its sessions, in pg_stat_activity
        )
        server = Server(env, tmp_path / f"serve-{generation}.log", new_session=True)
        servers.append(server)
        server.wait_ready()
        return server, env

    sent: list[Sent] = []
    told: dict[str, Any] = {}
    kills = []
    try:
        server, env = start(1)
        for generation in (1, 2):
            started = time.monotonic()
            batch = load_and_kill(server, generation)
            seconds = time.monotonic() - started
            wait_for_backends_to_end(db, f"connector-crash-{generation}")
            sent += batch
            killed = read_stored(db)  # as the crash left it: committed, or rolled back
            cut_off = [s for s in batch if s.status is None]
            kills.append(
                {
                    "answered": len(batch) - len(cut_off),
                    "load_seconds": round(seconds, 2),
                    "cut_off_in_flight": sum("aborted" in str(s.error) for s in cut_off),
                    "cut_off_creates_committed": sum(
                        s.path == "/payments" and s.payment_id in killed.answers for s in cut_off
                    ),
                    "cut_off_creates_lost": sum(
                        s.path == "/payments" and s.payment_id not in killed.answers
                        for s in cut_off
                    ),
                    "cut_off_operations_committed": sum(
                        s.path != "/payments" and s.body["requestId"] in killed.operations
                        for s in cut_off
                    ),
                    "cut_off_operations_lost": sum(
                        s.path != "/payments" and s.body["requestId"] not in killed.operations
                        for s in cut_off
                    ),
                }
            )
            server, env = start(generation + 1)
            kills[-1].update(verify(db, env, server, sent, told))
        denied = Counter(
            answer["code"]
            for _status, answer in told.values()
            if isinstance(answer, dict) and answer.get("status") == PaymentStatus.DENIED
        )
        print(f"\ncrash test: {kills}, denied: {dict(denied)}")  # shown with -s
        assert denied["insufficient_credit"] > 0 and denied["no_account"] > 0
        assert all(k["cut_off_in_flight"] for k in kills), "no request was cut off by a kill"
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.kill()
