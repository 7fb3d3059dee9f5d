"""What every benchmark needs: a PostgreSQL database, a served connector, seeded accounts."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import insert, text

from connector.config import normalize_database_url
from connector.credit.models import Account, Holder, StatementEntry
from connector.db import make_engine
from connector.ids import new_id
from connector.migrate import upgrade

ROLE, PASSWORD = "connector_bench", "connector_bench"
APP_KEY, APP_TOKEN = "bench", "bench-token-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent


def _as_postgres(sql: str) -> None:
    command = ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql]
    if os.geteuid() == 0:
        subprocess.run(["su", "postgres", "-c", " ".join(map(_quote, command))], check=True)
    else:
        subprocess.run(["sudo", "-u", "postgres", *command], check=True)


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\"'\"'") + "'"


def local_database(name: str) -> str:
    """A fresh database on the local PostgreSQL 15 cluster (started if needed)."""
    subprocess.run(["pg_ctlcluster", "15", "main", "start"], check=False, stderr=subprocess.DEVNULL)
    _as_postgres(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN "
        f"CREATE ROLE {ROLE} LOGIN SUPERUSER PASSWORD '{PASSWORD}'; END IF; END $$"
    )
    _as_postgres(f"DROP DATABASE IF EXISTS {name}")
    _as_postgres(f"CREATE DATABASE {name} OWNER {ROLE}")
    return f"postgresql+psycopg://{ROLE}:{PASSWORD}@127.0.0.1:5432/{name}"


def reset_schema(url: str) -> None:
    """Empty the database and build the schema with the migrations."""
    url = normalize_database_url(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)


def checkpoint(url: str) -> None:
    """Flush what set-up wrote, so that no measured run shares the disk with a checkpoint.

    Loading pgbench's tables or the accounts leaves hundreds of megabytes of dirty pages,
    which PostgreSQL otherwise writes out during the next minutes, under the load.
    """
    engine = make_engine(normalize_database_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("CHECKPOINT"))
    engine.dispose()


def seed_accounts(url: str, count: int, limit_cents: int, prefix: str = "bench") -> list[str]:
    """Open ``count`` accounts ``{prefix}-{i}@example.com`` fast, with their Credit entries."""
    engine = make_engine(normalize_database_url(url))
    now = datetime.now(UTC)
    ids = [f"{prefix}-{i}" for i in range(count)]
    with engine.begin() as connection:
        for start in range(0, count, 5000):
            chunk = ids[start : start + 5000]
            connection.execute(
                insert(Account),
                [
                    {
                        "id": a,
                        "email": f"{a}@example.com",
                        "document": None,
                        "document_type": None,
                        "status": "Open",
                        "credit_limit_cents": limit_cents,
                        "tolerance_bps": 0,
                        "balance_cents": 0,
                        "reserved_cents": 0,
                        "created_at": now,
                        "updated_at": now,
                        "closed_at": None,
                    }
                    for a in chunk
                ],
            )
            connection.execute(
                insert(Holder),
                [
                    {
                        "id": new_id(),
                        "account_id": a,
                        "email": f"{a}@example.com",
                        "level": 1,
                        "created_at": now,
                        "removed_at": None,
                    }
                    for a in chunk
                ],
            )
            connection.execute(
                insert(StatementEntry),
                [
                    {
                        "id": new_id(),
                        "account_id": a,
                        "origin": "Credit",
                        "value_cents": limit_cents,
                        "created_at": now,
                        "done_by": "bench",
                        "invoice_id": None,
                        "transaction_id": None,
                        "metadata": {},
                    }
                    for a in chunk
                ],
            )
        # Only what was loaded: a table analyzed while empty gets plans (foreign-key checks
        # included) that scan it whole, and keeps them until autovacuum analyzes it again.
        tables = "accounts, holders, statement_entries"
        if connection.dialect.name == "sqlite":  # one table per ANALYZE there
            for table in tables.split(", "):
                connection.execute(text(f"ANALYZE {table}"))
        else:
            connection.execute(text(f"ANALYZE {tables}"))
    engine.dispose()
    return ids


@contextmanager
def served(
    url: str, *, workers: int | None = None, log: Path | None = None, **extra_env: str
) -> Iterator[str]:
    """Run ``connector serve`` on ``url``; yield its base URL."""
    port = 18_000 + os.getpid() % 1000
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update(
        DATABASE_URL=url,
        CONNECTOR_APP_KEY=APP_KEY,
        CONNECTOR_APP_TOKEN=APP_TOKEN,
        CONNECTOR_INSTANCE_PATH=str(ROOT / "bench" / "results" / "instance"),
        CONNECTOR_LOG_LEVEL="WARNING",
        CONNECTOR_SCHEDULER="false",
    )
    if workers:
        env["CONNECTOR_WORKERS"] = str(workers)
    env.update(extra_env)
    out = (log or ROOT / "bench" / "results" / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "connector.cli", "serve", "--port", str(port)],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError("connector serve exited; see bench/results/serve.log")
            try:
                if requests.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("connector serve did not start")
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        out.close()


def machine() -> dict[str, Any]:
    cpu = ""
    with suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    memory = ""
    with suppress(OSError):
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
