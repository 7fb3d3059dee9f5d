"""Authorization on the embedded default: ``connector serve`` on SQLite, as the README's
first command runs it, against a plain SQLite loop writing the same rows.

The baseline is what SQLite itself allows for one approval: one committed transaction
(WAL, ``synchronous=NORMAL``, as the connector sets them) that adds to the account's
reservation and inserts the approval's reservation and payment rows. It re-inserts the
very rows the connector wrote, into copies of the two tables with the same indexes, from
one connection in a loop: SQLite has one writer at a time, so more clients would only
queue on its lock.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import common, load
from connector.migrate import upgrade

CLIENTS = (2, 16)


def plain_loop(path: Path, seconds: float) -> dict[str, Any]:
    """Committed transactions per second re-writing the connector's approvals."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    for table in ("reservations", "payments"):
        connection.execute(f"DROP TABLE IF EXISTS plain_{table}")
        ddl = connection.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()[0]
        copy = re.sub(rf'^CREATE TABLE "?{table}"?', f"CREATE TABLE plain_{table}", ddl)
        connection.execute(copy)
        indexes = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            (table,),
        ).fetchall()
        for name, sql in indexes:
            sql = re.sub(rf' "?{name}"? ON "?{table}"? ', f" plain_{name} ON plain_{table} ", sql)
            connection.execute(sql)
    reservations = connection.execute("SELECT * FROM reservations").fetchall()
    cursor = connection.execute("SELECT * FROM payments")
    column = [d[0] for d in cursor.description].index("reservation_id")
    by_reservation = {row[column]: row for row in cursor}
    # Only question marks are formatted in: the values are bound.
    marks_r = ", ".join("?" * len(reservations[0]))
    marks_p = ", ".join("?" * len(cursor.description))
    insert_reservation = f"INSERT INTO plain_reservations VALUES ({marks_r})"  # noqa: S608
    insert_payment = f"INSERT INTO plain_payments VALUES ({marks_p})"  # noqa: S608
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    for reservation in reservations:
        payment = by_reservation.get(reservation[0])
        if payment is None:
            continue
        connection.execute("BEGIN IMMEDIATE")
        # The account's row is written as an approval writes it (adding nothing, so the
        # connector's own figures stay true for ``connector check``).
        connection.execute(
            "UPDATE accounts SET reserved_cents = reserved_cents + 0 WHERE id = ?",
            (reservation[1],),
        )
        connection.execute(insert_reservation, reservation)
        connection.execute(insert_payment, payment)
        connection.execute("COMMIT")
        done += 1
        if time.perf_counter() > deadline:
            break
    elapsed = time.perf_counter() - started
    connection.close()
    return {"transactions": done, "seconds": elapsed, "per_second": done / elapsed}


def bench_authorize_sqlite(seconds: int, rounds: int) -> dict[str, Any]:
    """``connector serve`` on a new SQLite file at 2 and 16 clients, and the plain loop."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-sqlite-"))
    path = workdir / "connector.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url)
    common.seed_accounts(url, 1000, limit_cents=10**12)
    runs: dict[int, list[dict[str, Any]]] = {clients: [] for clients in CLIENTS}
    plains: list[dict[str, Any]] = []
    with common.served(url, log=common.ROOT / "bench" / "results" / "serve-sqlite.log") as base:
        load.wrk_authorize(base, 2, 5, accounts=1000, prefix=f"warm{secrets.token_hex(3)}")
        for _round in range(rounds):
            for clients in CLIENTS:
                prefix = f"s{clients}{secrets.token_hex(3)}"
                result = load.wrk_authorize(base, clients, seconds, accounts=1000, prefix=prefix)
                runs[clients].append({**asdict(result), "per_second": result.per_second})
            plains.append(plain_loop(path, seconds))
    plain_rate = statistics.median(p["per_second"] for p in plains)
    summary: dict[str, Any] = {"plain": plains, "plain_per_second": plain_rate, "file": str(path)}
    for clients, measured in runs.items():
        rate = statistics.median(r["per_second"] for r in measured)
        summary[str(clients)] = {
            "per_second": rate,
            "p50_ms": statistics.median(r["p50_ms"] for r in measured),
            "p95_ms": statistics.median(r["p95_ms"] for r in measured),
            "p99_ms": statistics.median(r["p99_ms"] for r in measured),
            "failed": sum(r["failed"] for r in measured),
            "ratio": rate / plain_rate,
            "rounds": measured,
        }
    return summary
