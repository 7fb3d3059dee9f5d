"""Two hosts on one PostgreSQL behind PgBouncer in transaction mode, and PostgreSQL
restarted under load.

Each host is a ``connector serve`` process of its own (its workers and its scheduler) on
its own port, both reaching the database through one PgBouncer in transaction mode, as
the README's "Running more than one host" describes. The test holds them to this:

- purchases sent to either host are approved by the credit both see: no account holds
  or spends more than its limit, and ``connector check`` finds no drift;
- the jobs both schedulers run are each done once: every due reservation settled into
  exactly its invoices, every async callback delivered once, every issued-invoice mail
  written once, every row of an uploaded import applied once;
- a restart of PostgreSQL under load: requests answer errors (never a wrong approval)
  while it is down, the hosts recover by themselves, and a gateway sending everything
  again finds each payment decided once and held once.

PostgreSQL only, and Debian's ``pgbouncer`` (``apt-get install pgbouncer``); the restart
needs this machine's cluster (``pg_ctlcluster``) and is skipped without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url

from connector.credit.check import find_drift
from connector.credit.models import Account, Invoice, Reservation, ReservationStatus
from connector.db import Database
from connector.migrate import is_current
from connector.notify.outbox import OutboxMail
from connector.payments.models import Payment, PaymentStatus
from tests import factories
from tests.factories import card_body, payment_body, valid_cpf
from tests.server import Server, environment, free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

HEADERS = {"X-VTEX-API-AppKey": "gateway", "X-VTEX-API-AppToken": "gateway-token-0123456789"}
SECRET = "a-secret-both-hosts-share-0123456789abcdef"
LIMITS = {f"tight{n}@example.com": 40_000 for n in range(1, 4)} | {
    f"wide{n}@example.com": 100_000_000 for n in range(1, 3)
}
JOB_WAIT = 150  # seconds: the schedulers run the minute jobs at start, then every 60 s


@pytest.fixture
def postgresql_db(db: Database) -> Database:
    if not db.is_postgresql:
        pytest.skip(
            "scale-out test: PostgreSQL only (set TEST_DATABASE_URL to a PostgreSQL "
            "database); several hosts share one PostgreSQL"
        )
    return db


class PgBouncer:
    """Debian's pgbouncer in transaction mode in front of the test database."""

    def __init__(self, db: Database) -> None:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not os.path.exists(binary):
            pytest.fail("pgbouncer is not installed: apt-get install pgbouncer")
        url = make_url(db.url)
        self.port = free_port()
        # pgbouncer refuses to run as root: as root it runs as postgres, which must read
        # its files, so they live in a folder of their own rather than pytest's.
        self.folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self.folder.chmod(0o777)
        users = self.folder / "userlist.txt"
        users.write_text(f'"{url.username}" "{url.password}"\n')
        config = self.folder / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={url.host} port={url.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = plain\nauth_file = {users}\n"
            "pool_mode = transaction\ndefault_pool_size = 12\nmax_client_conn = 500\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            # As deploy/pgbouncer.ini: while PostgreSQL is away, try again every second,
            # and give a waiting client an error after 10 s rather than hold it.
            "server_login_retry = 1\nquery_wait_timeout = 10\n"
            f"logfile = {self.folder / 'pgbouncer.log'}\n"
        )
        for path in (users, config):
            path.chmod(0o644)
        command = [binary, str(config)]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "postgres"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.url = url.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)
        deadline = time.monotonic() + 15
        while True:
            assert self.process.poll() is None, self.log()
            try:
                probe = Database(self.url, prepared_statements=False)
                with probe.transaction() as session:
                    session.execute(text("SELECT 1"))
                probe.dispose()
                return
            except Exception:
                assert time.monotonic() < deadline, self.log()
                time.sleep(0.2)

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text() if path.exists() else "(no pgbouncer log)"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()  # it waits for its clients to leave; none matter now
            self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def pgbouncer(postgresql_db: Database) -> Iterator[PgBouncer]:
    bouncer = PgBouncer(postgresql_db)
    yield bouncer
    bouncer.stop()


class Callbacks(BaseHTTPRequestHandler):
    """The gateway's callback endpoint: counts what it receives, per payment."""

    received: Counter[str] = Counter()
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            self.received[body["paymentId"]] += 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def callbacks() -> Iterator[tuple[str, Counter[str]]]:
    Callbacks.received = Counter()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Callbacks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callback", Callbacks.received
    server.shutdown()


def test_two_hosts_starting_at_once_migrate_an_empty_database_once(
    postgresql_db: Database, pgbouncer: PgBouncer, tmp_path: Path
) -> None:
    """Each ``serve`` upgrades the database first: two at once, through the pooler, must
    not both create the tables (a lock of the migration's transaction orders them)."""
    fresh = f"{make_url(postgresql_db.url).database}_fresh"
    admin = postgresql_db.engine.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{fresh}"'))
        connection.execute(text(f'CREATE DATABASE "{fresh}"'))
    try:
        url = make_url(pgbouncer.url).set(database=fresh).render_as_string(hide_password=False)
        env = environment(postgresql_db, tmp_path, DATABASE_URL=url)
        upgrades = [
            subprocess.Popen(
                [sys.executable, "-m", "connector.cli", "db", "upgrade"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(3)
        ]
        for upgrade in upgrades:
            output, _ = upgrade.communicate(timeout=120)
            assert upgrade.returncode == 0, output
        check = Database(url, prepared_statements=False)
        try:
            assert is_current(check.engine)
        finally:
            check.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)'))


def start_hosts(db: Database, bouncer: PgBouncer | None, tmp_path: Path) -> list[Server]:
    hosts = []
    for name in ("a", "b"):
        env = environment(
            db,
            tmp_path / name,
            DATABASE_URL=bouncer.url if bouncer else db.url,
            CONNECTOR_DB_PREPARED_STATEMENTS="false" if bouncer else "true",
            CONNECTOR_SECRET_KEY=SECRET,
            CONNECTOR_APP_KEY=HEADERS["X-VTEX-API-AppKey"],
            CONNECTOR_APP_TOKEN=HEADERS["X-VTEX-API-AppToken"],
            CONNECTOR_ALLOW_TESTSUITE_WITHOUT_CREDENTIALS="true",
            # Behind PgBouncer 1.18, one thread per worker: see README, "Running more than
            # one host" (with two, a PostgreSQL restart left requests waiting on the pooler).
            **({"CONNECTOR_THREADS": "1"} if bouncer else {}),
        )
        (tmp_path / name).mkdir()
        hosts.append(Server(env, tmp_path / f"host-{name}.log", new_session=True))
    for host in hosts:
        host.wait_ready()
    return hosts


def wait_for(what: str, condition: Any, timeout: float = JOB_WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not done within {timeout} s: {what}"
        time.sleep(1)


def test_two_hosts_behind_pgbouncer_share_the_credit_and_run_each_job_once(
    postgresql_db: Database,
    pgbouncer: PgBouncer,
    callbacks: tuple[str, Counter[str]],
    tmp_path: Path,
) -> None:
    db = postgresql_db
    with db.transaction() as session:
        for n, (email, limit) in enumerate(LIMITS.items(), start=1):
            factories.account(session, number=n, email=email, credit_limit_cents=limit)
    hosts = start_hosts(db, pgbouncer, tmp_path)
    callback_url, received = callbacks
    try:
        # Purchases, alternating between the hosts: the tight accounts run out of credit.
        emails = list(LIMITS)

        def create(n: int) -> tuple[int, str, dict[str, Any]]:
            host = hosts[n % 2]
            body = payment_body(f"p{n}", "70.00")
            body["miniCart"]["buyer"]["email"] = emails[n % len(emails)]
            answer = requests.post(f"{host.base}/payments", json=body, headers=HEADERS, timeout=30)
            return n % 2, body["paymentId"], answer.json()

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(create, range(400)))
        approved = {pid for _h, pid, a in answers if a["status"] == PaymentStatus.APPROVED}
        by_host = Counter(h for h, _pid, a in answers if a["status"] == PaymentStatus.APPROVED)
        denied = Counter(a["code"] for _h, _pid, a in answers if a["status"] == "denied")
        assert by_host[0] > 50 and by_host[1] > 50, by_host  # both hosts approved
        assert denied["insufficient_credit"] > 0, denied  # the tight accounts ran out
        with db.transaction() as session:
            assert find_drift(session) == []
            for account in session.scalars(select(Account)):
                assert account.reserved_cents - account.balance_cents <= account.credit_limit_cents
            held = set(
                session.scalars(
                    select(Payment.payment_id).where(Payment.status == PaymentStatus.APPROVED)
                )
            )
            assert held == approved
            assert session.scalar(select(func.count()).select_from(Reservation)) == len(approved)

        # Async callbacks (test-suite cards answered later), created on both hosts.
        async_ids = []
        for n in range(20):
            body = card_body(f"async{n}", "4222222222222224", callbackUrl=callback_url)
            answer = requests.post(
                f"{hosts[n % 2].base}/payments",
                json=body,
                headers={"X-VTEX-API-Is-TestSuite": "true", **HEADERS},
                timeout=30,
            ).json()
            assert answer["status"] == PaymentStatus.UNDEFINED, answer
            async_ids.append(body["paymentId"])

        # An import of 300 new accounts, uploaded to host a: either scheduler may run it.
        rows = ["Email,Document,Document Type,Credit limit,Tolerance (fraction or %)"]
        rows += [f"import{n}@example.com,{valid_cpf(100 + n)},CPF,500,0" for n in range(300)]
        upload = requests.post(
            f"{hosts[0].base}/api/creditcontrol/bulk/imports/accounts",
            data={"mode": "create"},
            files={"file": ("accounts.csv", "\n".join(rows) + "\n", "text/csv")},
            headers=HEADERS,
            timeout=30,
        )
        assert upload.status_code == 202, upload.text
        job = upload.json()

        # Every approved reservation due now: both schedulers' auto-settle run at once.
        with db.transaction() as session:
            session.execute(
                update(Reservation)
                .where(Reservation.status == ReservationStatus.PENDING)
                .values(auto_settle_at=func.now() - text("interval '1 minute'"))
            )

        def pending() -> int:
            with db.transaction() as session:
                return (
                    session.scalar(
                        select(func.count())
                        .select_from(Reservation)
                        .where(Reservation.status == ReservationStatus.PENDING)
                    )
                    or 0
                )

        wait_for("auto-settle of every due reservation", lambda: pending() == 0)
        wait_for("every async callback", lambda: set(received) >= set(async_ids), 60)

        def imported() -> bool:
            status = requests.get(
                f"{hosts[1].base}/api/creditcontrol/bulk/imports/{job['id']}",
                headers=HEADERS,
                timeout=30,
            ).json()
            return status["status"] not in ("queued", "running")

        wait_for("the import", imported)

        def issued_mails() -> int:
            with db.transaction() as session:
                return session.scalar(select(func.count()).select_from(OutboxMail)) or 0

        with db.transaction() as session:
            invoices = session.scalar(select(func.count()).select_from(Invoice)) or 0
        # One "issued" mail per settled purchase's invoices, written by one scheduler.
        wait_for("the issued-invoice mails", lambda: issued_mails() >= len(approved))
        time.sleep(5)  # a duplicate would come from the other host's next run

        with db.transaction() as session:
            assert find_drift(session) == []
            per_reservation = session.execute(
                select(Reservation.id, Reservation.installments, func.count(Invoice.id))
                .join(Invoice, Invoice.reservation_id == Reservation.id)
                .group_by(Reservation.id, Reservation.installments)
            ).all()
            assert len(per_reservation) == len(approved)
            assert all(count == installments for _id, installments, count in per_reservation)
            assert invoices == sum(count for *_rest, count in per_reservation)
            mails = session.scalar(select(func.count()).select_from(OutboxMail))
            assert mails == len(approved), (mails, len(approved))
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(Account)
                    .where(Account.email.like("import%@example.com"))
                )
                == 300
            )
        final = requests.get(
            f"{hosts[0].base}/api/creditcontrol/bulk/imports/{job['id']}",
            headers=HEADERS,
            timeout=30,
        ).json()
        assert final["status"] == "completed", final
        assert final["counts"]["created"] == 300, final
        assert all(received[pid] == 1 for pid in async_ids), received
        for host in hosts:
            assert "prepared statement" not in host.output(), host.output()
        check = subprocess.run(
            [sys.executable, "-m", "connector.cli", "check"],
            env=environment(db, tmp_path / "check"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        for host in hosts:
            if host.process.poll() is None:
                host.kill()


def local_cluster(db: Database) -> tuple[str, str]:
    """This machine's PostgreSQL cluster serving the test database (version, name), for
    ``pg_ctlcluster``; the restart test is skipped when there is none to restart."""
    url = make_url(db.url)
    if os.geteuid() != 0 or not shutil.which("pg_lsclusters"):
        pytest.skip("restarting PostgreSQL needs root and Debian's pg_ctlcluster")
    if url.host not in ("127.0.0.1", "localhost"):
        pytest.skip(f"the test database is on {url.host}, not this machine")
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True)
    for line in listed.stdout.splitlines():
        version, name, port, *_rest = line.split()
        if int(port) == (url.port or 5432):
            return version, name
    pytest.skip(f"no local cluster listens on port {url.port}")


@pytest.mark.parametrize("through", ["postgresql", "pgbouncer"])
def test_a_postgresql_restart_under_load_reserves_nothing_twice_and_heals(
    postgresql_db: Database, tmp_path: Path, through: str
) -> None:
    db = postgresql_db
    version, name = local_cluster(db)
    bouncer = PgBouncer(db) if through == "pgbouncer" else None
    with db.transaction() as session:
        for n, (email, limit) in enumerate(LIMITS.items(), start=1):
            factories.account(session, number=n, email=email, credit_limit_cents=limit)
    hosts = start_hosts(db, bouncer, tmp_path)
    emails = list(LIMITS)
    bodies: dict[str, dict[str, Any]] = {}
    told: dict[str, tuple[int | None, Any]] = {}  # paymentId -> (status, answer) of its create
    settled: dict[str, tuple[int | None, Any]] = {}  # requestId -> first answer
    lock = threading.Lock()
    stop = threading.Event()

    def post(host: Server, path: str, body: dict[str, Any]) -> tuple[int | None, Any]:
        try:
            response = requests.post(host.base + path, json=body, headers=HEADERS, timeout=30)
        except requests.RequestException as error:
            return None, str(error)
        return response.status_code, response.json()  # never an empty body

    def client(number: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            payment_id = f"c{number}-{n}"
            body = payment_body(payment_id, "45.00")
            body["miniCart"]["buyer"]["email"] = emails[(number + n) % len(emails)]
            host = hosts[n % 2]
            status, answer = post(host, "/payments", body)
            with lock:
                bodies[payment_id] = body
                told[payment_id] = (status, answer)
            if status == 200 and answer["status"] == PaymentStatus.APPROVED and n % 3 == 0:
                operation = {"paymentId": payment_id, "requestId": f"s-{payment_id}"}
                first = post(hosts[(n + 1) % 2], f"/payments/{payment_id}/settlements", operation)
                with lock:
                    settled[payment_id] = first

    threads = [threading.Thread(target=client, args=(c,)) for c in range(6)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(3)
        restarted = subprocess.run(
            ["pg_ctlcluster", version, name, "restart", "-m", "fast"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert restarted.returncode == 0, restarted.stderr
        back = time.monotonic()
        time.sleep(8)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

        # During the restart requests failed, in the protocol's shapes, never empty.
        failed = {pid: told[pid] for pid in told if told[pid][0] != 200}
        failed |= {f"s-{pid}": settled[pid] for pid in settled if settled[pid][0] != 200}
        assert failed, "no request failed: PostgreSQL was not down under load"
        for status, answer in failed.values():
            assert status is not None and status >= 500, (status, answer)
            assert isinstance(answer, dict) and answer.get("code"), answer
        # The hosts healed by themselves: each approves again.
        for n, host in enumerate(hosts):
            body = payment_body(f"after-{n}", "1.00")
            body["miniCart"]["buyer"]["email"] = "wide1@example.com"
            deadline = time.monotonic() + 30
            while (answer := post(host, "/payments", body))[0] != 200:
                assert time.monotonic() < deadline, answer
                time.sleep(0.5)
            assert answer[1]["status"] == PaymentStatus.APPROVED, answer
        healed = time.monotonic() - back
        print(f"\nrestart: {len(told)} creates, {len(failed)} failed, healed {healed:.1f} s after")

        # What was answered is what is stored.
        with db.transaction() as session:
            stored = {p.payment_id: p for p in session.scalars(select(Payment))}
        for payment_id, (status, answer) in told.items():
            if status == 200:
                row = stored[payment_id]
                assert (row.status, row.authorization_id if row.status == "approved" else None) == (
                    answer["status"],
                    answer["authorizationId"],
                ), payment_id
        # The gateway sends every create and settlement again, twice: decided once, held once.
        for round_ in (1, 2):
            for n, (payment_id, body) in enumerate(sorted(bodies.items())):
                status, answer = post(hosts[n % 2], "/payments", body)
                assert status == 200, (payment_id, status, answer)
                if told[payment_id][0] == 200:
                    assert answer == told[payment_id][1], payment_id
                told[payment_id] = (status, answer)
            for payment_id, (status, first) in sorted(settled.items()):
                operation = {"paymentId": payment_id, "requestId": f"s-{payment_id}"}
                again = post(hosts[round_ % 2], f"/payments/{payment_id}/settlements", operation)
                if status == 200:
                    assert again == (status, first), payment_id
                assert again[0] == 200, again
                settled[payment_id] = again
            with db.transaction() as session:
                assert find_drift(session) == []
                approved = {
                    pid for pid, (_s, answer) in told.items() if answer["status"] == "approved"
                } | {"after-0", "after-1"}
                reservations = session.scalars(select(Reservation)).all()
                assert len(reservations) == len(approved)
                for account in session.scalars(select(Account)):
                    assert (
                        account.reserved_cents - account.balance_cents <= account.credit_limit_cents
                    )
    finally:
        stop.set()
        for host in hosts:
            if host.process.poll() is None:
                host.kill()
        if bouncer is not None:
            bouncer.stop()
