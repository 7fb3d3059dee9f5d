"""Bulk CSV benchmark: a big account import and a big invoice export, against the database's
own bulk insert of the same rows.

    python -m bench.bulk [--rows 1000000] [--database-url URL] [--wipe] [--rerun]

Phases, each in its own process so that its peak memory (the RSS of the process doing the
work) is its own:

1. write an accounts CSV of ``--rows`` rows (the template's columns);
2. plain bulk insert: the same file read with the csv module and inserted into a scratch
   table, ``executemany`` on SQLite, ``COPY`` on PostgreSQL: the database's own limit;
3. account import, create mode, through the services, as ``connector import`` runs it;
4. (``--rerun``) the same import again: every row unchanged;
5. ``--rows`` invoices written straight into the tables (fabricated: the benchmark needs
   many invoices fast, so ``connector check`` will report drift on this database), then
   exported with the filters' query, streamed to a file; the accounts exported too;
6. ``--settle`` open invoices of that export marked ``Paid`` and imported (one
   ``update_invoice`` per row, each in its own savepoint).

Without ``--database-url`` it uses a new SQLite file in a temporary directory. A database
that already has accounts is refused unless ``--wipe`` (which empties it) is given: point it
at a scratch database only.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

from bench import common

HEADER = ["Email", "Document", "Document Type", "Credit limit", "Tolerance rate"]
BATCH = 10_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


# --- Phases run in child processes ------------------------------------------------


def phase_plain(url: str, path: Path) -> dict[str, Any]:
    """Insert the file's rows into a scratch table as fast as the database takes them."""
    from connector.db import Database

    db = Database(url)
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS bench_plain_accounts"))
        connection.execute(
            text(
                "CREATE TABLE bench_plain_accounts (email VARCHAR(254), document VARCHAR(64), "
                "document_type VARCHAR(16), credit_limit_cents BIGINT, tolerance_bps INTEGER)"
            )
        )
    started = time.perf_counter()
    rows = 0
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        next(reader)
        values = (
            (e, d, t, int(Decimal(limit) * 100), int(Decimal(rate) * 10_000))
            for e, d, t, limit, rate in reader
        )
        if db.is_postgresql:
            method = "COPY"
            with db.engine.connect() as connection:
                raw: Any = connection.connection.dbapi_connection
                with raw.cursor() as cursor:
                    copy_sql = (
                        "COPY bench_plain_accounts (email, document, document_type, "
                        "credit_limit_cents, tolerance_bps) FROM STDIN"
                    )
                    with cursor.copy(copy_sql) as copy:
                        for row in values:
                            copy.write_row(row)
                            rows += 1
                raw.commit()
        else:
            method = "executemany"
            batch: list[tuple[Any, ...]] = []
            with db.engine.connect() as connection:
                raw = connection.connection.dbapi_connection
                cursor = raw.cursor()
                cursor.execute("BEGIN")
                sql = "INSERT INTO bench_plain_accounts VALUES (?, ?, ?, ?, ?)"
                for row in values:
                    batch.append(row)
                    if len(batch) == BATCH:
                        cursor.executemany(sql, batch)
                        rows += len(batch)
                        batch.clear()
                cursor.executemany(sql, batch)
                rows += len(batch)
                cursor.execute("COMMIT")
    seconds = time.perf_counter() - started
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE bench_plain_accounts"))
    db.dispose()
    return {"rows": rows, "seconds": seconds, "method": method, "rss_mb": peak_rss_mb()}


def phase_import(url: str, path: Path, chunk_size: int) -> dict[str, Any]:
    """The real import, as ``connector import accounts FILE --mode create`` runs it."""
    return _timed_import(url, path, "accounts", "create", chunk_size=chunk_size)


def _timed_import(url: str, path: Path, kind: str, mode: str, **options: Any) -> dict[str, Any]:
    """Import a file as the CLI does, timed, with the job's counts."""
    from connector.bulk.runner import run_import, start_file_import
    from connector.db import Database

    db = Database(url)
    started = time.perf_counter()
    begun = start_file_import(
        db, path, kind=kind, mode=mode, dry_run=False, resume=False, requested_by="bench", **options
    )
    with path.open("rb") as stream:
        job = run_import(db, begun.job.id, begun.token, stream)
    seconds = time.perf_counter() - started
    db.dispose()
    return {
        "rows": job.rows_done,
        "seconds": seconds,
        "status": job.status,
        "counts": [job.created_count, job.updated_count, job.unchanged_count, job.failed_count],
        "rss_mb": peak_rss_mb(),
    }


def phase_invoices(url: str, count: int) -> dict[str, Any]:
    """Fabricate ``count`` invoices (four per purchase) on existing accounts, fast."""
    from connector.credit.models import Account, Invoice, Reservation
    from connector.db import Database

    db = Database(url)
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    purchases = -(-count // 4)
    started = time.perf_counter()
    with db.engine.connect() as connection:
        account_ids = list(
            connection.execute(select(Account.id).order_by(Account.id).limit(purchases)).scalars()
        )
    written = 0
    reservations: list[dict[str, Any]] = []
    invoices: list[dict[str, Any]] = []

    def flush(connection: Any) -> None:
        if reservations:
            connection.execute(insert(Reservation.__table__), reservations)
        if invoices:
            connection.execute(insert(Invoice.__table__), invoices)
        reservations.clear()
        invoices.clear()

    with db.engine.connect() as connection:
        for n in range(purchases):
            account_id = account_ids[n % len(account_ids)]
            transaction_id = f"bench{n:012d}"
            moment = now + timedelta(seconds=n)
            parts = min(4, count - written)
            reservations.append(
                {
                    "id": transaction_id,
                    "account_id": account_id,
                    "holder_email": None,
                    "order_id": f"order-{n}",
                    "status": "posted",
                    "value_cents": 0,
                    "authorized_cents": 40_000,
                    "settled_cents": 40_000,
                    "refunded_cents": 0,
                    "installments": 4,
                    "term_days": [30, 60, 90, 120],
                    "invoice_count": parts,
                    "auto_settle_at": moment,
                    "expires_at": None,
                    "created_at": moment,
                    "updated_at": moment,
                    "settled_at": moment,
                    "released_at": None,
                }
            )
            for i in range(1, parts + 1):
                paid = (n + i) % 3 == 0
                invoices.append(
                    {
                        "id": f"{transaction_id}-{i:02d}",
                        "friendly_id": f"B{n:09d}-{i}",
                        "account_id": account_id,
                        "reservation_id": transaction_id,
                        "order_id": f"order-{n}",
                        "installment": i,
                        "number_of_installments": 4,
                        "value_cents": 10_000,
                        "original_value_cents": 10_000,
                        "status": "Paid" if paid else "Opened",
                        "created_at": moment,
                        "updated_at": moment,
                        "original_due_date": moment + timedelta(days=30 * i),
                        "due_date": moment + timedelta(days=30 * i),
                        "resolved_at": moment if paid else None,
                        "payment_link": f"https://pay.example.com/{n}/{i}",
                        "observation": '=HYPERLINK("x")' if n % 100 == 0 else "boleto",
                        "postponement_count": 0,
                        "postponed_days": 0,
                    }
                )
            written += parts
            if len(invoices) >= BATCH:
                flush(connection)
                connection.commit()
        flush(connection)
        connection.commit()
    seconds = time.perf_counter() - started
    db.dispose()
    return {"rows": written, "seconds": seconds, "rss_mb": peak_rss_mb()}


def phase_settle(url: str, exported: Path, count: int, target: Path) -> dict[str, Any]:
    """Pay ``count`` open invoices from an edited export, as ``connector import invoices``."""
    with exported.open(newline="", encoding="utf-8-sig") as source:
        rows = csv.DictReader(source)
        with target.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["Id", "Status", "Observation"])
            written = 0
            for row in rows:
                if row["Status"] == "Opened":
                    writer.writerow([row["Id"], "Paid", "paid in bulk"])
                    written += 1
                    if written == count:
                        break
    return _timed_import(url, target, "invoices", "update")


def phase_export(url: str, kind: str, target: Path) -> dict[str, Any]:
    """Stream an export to a file, as ``connector export`` does."""
    from connector.bulk.export import export_text
    from connector.credit.account_search import AccountFilter
    from connector.credit.invoice_search import InvoiceFilter
    from connector.db import Database

    db = Database(url)
    count = 0

    def counted() -> None:
        nonlocal count
        count += 1

    f = AccountFilter() if kind == "accounts" else InvoiceFilter()
    started = time.perf_counter()
    with target.open("w", encoding="utf-8-sig", newline="") as out:
        for piece in export_text(db, kind, f, on_row=counted):  # type: ignore[arg-type]
            out.write(piece)
    seconds = time.perf_counter() - started
    db.dispose()
    return {
        "rows": count,
        "seconds": seconds,
        "bytes": target.stat().st_size,
        "rss_mb": peak_rss_mb(),
    }


# --- The orchestrating process ------------------------------------------------------


def _check_digits(digits: str, weights: list[int]) -> str:
    """The two mod-11 check digits of CPF and CNPJ (the first over the leading weights)."""
    for start in (1, 0):
        total = sum(int(d) * w for d, w in zip(digits, weights[start:], strict=True))
        digits += str(0 if total % 11 < 2 else 11 - total % 11)
    return digits


def valid_document(n: int, kind: str) -> str:
    """Row n's CPF or CNPJ, with its check digits right (the import refuses any other)."""
    if kind == "CNPJ":
        return _check_digits(f"{n:08d}0001", [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    return _check_digits(f"{n:09d}", [11, 10, 9, 8, 7, 6, 5, 4, 3, 2])


def write_accounts_file(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(HEADER)
        for n in range(rows):
            kind = "CNPJ" if n % 5 == 0 else "CPF"
            writer.writerow(
                [
                    f"buyer{n}@example.com",
                    valid_document(n + 1, kind),
                    kind,
                    f"{1_000 + n % 50_000}.{n % 100:02d}",
                    f"0.{n % 20:02d}",
                ]
            )


def run_phase(args: list[str]) -> dict[str, Any]:
    """Run one phase in a child process and read the JSON it prints last."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.bulk", "--phase", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "CONNECTOR_LOG_LEVEL": "WARNING"},
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"phase {args[0]} failed")
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def prepare_database(url: str, wipe: bool) -> None:
    from connector.credit.models import Account
    from connector.db import Database
    from connector.migrate import upgrade

    db = Database(url)
    if wipe and db.is_postgresql:
        common.reset_schema(url)
    else:
        upgrade(url)
    with db.engine.connect() as connection:
        existing = connection.scalar(select(func.count()).select_from(Account))
    if existing and not wipe:
        raise SystemExit(f"{url} already has {existing} accounts; use a scratch database or --wipe")
    if existing and not db.is_postgresql:
        from connector.models import Base

        with db.engine.begin() as connection:
            # The audit trail's triggers refuse DELETE: a scratch database drops them first.
            for (name,) in connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            ).all():
                connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
    db.dispose()


def line(name: str, result: dict[str, Any]) -> str:
    rate = result["rows"] / result["seconds"] if result["seconds"] else 0.0
    return (
        f"{name:<34} {result['rows']:>10,} rows {result['seconds']:>8.1f} s "
        f"{rate:>10,.0f} rows/s   peak RSS {result['rss_mb']:>6.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="a scratch database (default: a new SQLite file)")
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--wipe", action="store_true", help="empty the database first")
    parser.add_argument("--rerun", action="store_true", help="also import the same file again")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument(
        "--settle",
        type=int,
        default=20_000,
        help="pay this many exported invoices by importing the edited export (0: skip)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.phase:
        name, *rest = options.phase
        phases = {
            "plain": lambda: phase_plain(rest[0], Path(rest[1])),
            "import": lambda: phase_import(rest[0], Path(rest[1]), int(rest[2])),
            "invoices": lambda: phase_invoices(rest[0], int(rest[1])),
            "export": lambda: phase_export(rest[0], rest[1], Path(rest[2])),
            "settle": lambda: phase_settle(rest[0], Path(rest[1]), int(rest[2]), Path(rest[3])),
        }
        print(json.dumps(phases[name]()))
        return

    from connector.config import normalize_database_url

    workdir = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    url = normalize_database_url(options.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}")
    prepare_database(url, options.wipe)
    backend = url.split(":", 1)[0]
    print(f"bulk benchmark: {options.rows:,} rows on {backend}, chunks of {options.chunk_size}")
    csv_path = workdir / "accounts.csv"
    started = time.perf_counter()
    write_accounts_file(csv_path, options.rows)
    size_mb = csv_path.stat().st_size / 2**20
    print(f"wrote {csv_path} ({size_mb:.0f} MB) in {time.perf_counter() - started:.1f} s")

    plain = run_phase(["plain", url, str(csv_path)])
    print(line(f"plain bulk insert ({plain['method']})", plain))
    imported = run_phase(["import", url, str(csv_path), str(options.chunk_size)])
    print(line("account import, create mode", imported))
    assert imported["status"] == "completed", imported
    plain_rate = plain["rows"] / plain["seconds"]
    import_rate = imported["rows"] / imported["seconds"]
    print(f"  counts created/updated/unchanged/failed: {imported['counts']}")
    print(f"  import rate / plain bulk insert rate: {import_rate / plain_rate:.3f}")
    figures: dict[str, Any] = {
        "backend": backend,
        "rows": options.rows,
        "plain": plain,
        "import": imported,
        "ratio": import_rate / plain_rate,
        "import_peak_rss_mb": imported["rss_mb"],
    }
    if options.rerun:
        again = run_phase(["import", url, str(csv_path), str(options.chunk_size)])
        print(line("same file again (all unchanged)", again))
        print(f"  counts created/updated/unchanged/failed: {again['counts']}")
    if not options.skip_export:
        made = run_phase(["invoices", url, str(options.rows)])
        print(line("fabricate invoices (setup)", made))
        exported = run_phase(["export", url, "invoices", str(workdir / "invoices.csv")])
        print(line("invoice export (streamed)", exported))
        print(f"  {exported['bytes'] / 2**20:.0f} MB written")
        accounts = run_phase(["export", url, "accounts", str(workdir / "export-accounts.csv")])
        print(line("account export (streamed)", accounts))
        if options.settle:
            settled = run_phase(
                [
                    "settle",
                    url,
                    str(workdir / "invoices.csv"),
                    str(options.settle),
                    str(workdir / "settle.csv"),
                ]
            )
            print(line("invoice import: pay from the export", settled))
            print(f"  counts created/updated/unchanged/failed: {settled['counts']}")
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print(f"files in {workdir} (delete when done)")


if __name__ == "__main__":
    main()
