"""How fast the API's invoice search answers on a large table.

Fills a fresh database with N invoices (spread over 1,000 accounts and a year), then
times the queries behind ``GET /api/creditcontrol/invoices``: a page and its summary,
for the common filters. Usage:

    DATABASE_URL=postgresql+psycopg://... python bench/invoice_search.py 1000000
    python bench/invoice_search.py 1000000          # a SQLite file in a temp dir

The database named by DATABASE_URL is wiped first.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import timedelta

from sqlalchemy import text

from connector.clock import utcnow
from connector.config import normalize_database_url
from connector.credit.invoice_search import InvoiceFilter, invoice_summary, search_invoices
from connector.db import Database
from connector.migrate import upgrade

ACCOUNTS = 1_000


def fill(db: Database, n: int) -> None:
    pg = db.is_postgresql
    numbers = (
        "SELECT g AS i FROM generate_series(1, :n) AS g"
        if pg
        else "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n) "
        "SELECT i FROM s"
    )
    moment = (
        (lambda seconds: f"(now() - ({seconds}) * interval '1 second')")
        if pg
        else (
            lambda seconds: (
                f"strftime('%Y-%m-%d %H:%M:%S.000000', 'now', (-({seconds})) || ' seconds')"
            )
        )
    )
    with db.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO accounts (id, email, document, document_type, status, "  # noqa: S608
                "credit_limit_cents, tolerance_bps, balance_cents, reserved_cents, created_at, "
                f"updated_at) SELECT 'acc' || i, 'b' || i || '@example.com', NULL, NULL, 'Open', "
                f"10000000, 0, 0, 0, {moment('i')}, {moment('i')} FROM ({numbers}) AS n"
            ),
            {"n": ACCOUNTS},
        )
        c.execute(
            text(
                "INSERT INTO reservations (id, account_id, status, value_cents, authorized_cents, "  # noqa: S608
                "settled_cents, refunded_cents, installments, term_days, invoice_count, "
                "auto_settle_at, created_at, updated_at) SELECT 'r' || i, 'acc' || i, 'posted', "
                f"0, 1, 1, 0, 1, '[30]', 1, {moment('i')}, {moment('i')}, {moment('i')} "
                f"FROM ({numbers}) AS n"
            ),
            {"n": ACCOUNTS},
        )
        seconds = "i * 31"  # a million invoices span a year
        c.execute(
            text(
                "INSERT INTO invoices (id, friendly_id, account_id, reservation_id, order_id, "  # noqa: S608
                "installment, number_of_installments, value_cents, original_value_cents, status, "
                "created_at, updated_at, original_due_date, due_date, resolved_at, payment_link, "
                "observation, postponement_count, postponed_days) SELECT 'inv' || i, 'F' || i, "
                f"'acc' || (i % {ACCOUNTS} + 1), 'r' || (i % {ACCOUNTS} + 1), 'o' || i, 1, 1, "
                "(i % 5000) * 100, (i % 5000) * 100, CASE i % 3 WHEN 0 THEN 'Opened' "
                f"WHEN 1 THEN 'Paid' ELSE 'Cancelled' END, {moment(seconds)}, {moment(seconds)}, "
                f"{moment(seconds + ' - 2592000')}, {moment(seconds + ' - 2592000')}, NULL, NULL, "
                "CASE WHEN i % 1000 = 0 THEN 'boleto sent' END, 0, 0 "
                f"FROM ({numbers}) AS n"
            ),
            {"n": n},
        )
        c.execute(text("ANALYZE"))


def timed(label: str, run: object) -> None:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    print(f"{label:<48} {best * 1000:8.1f} ms")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    url = os.environ.get("DATABASE_URL") or (f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3")
    url = normalize_database_url(url)
    db = Database(url)
    if db.is_postgresql:
        with db.engine.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE"))
            c.execute(text("CREATE SCHEMA public"))
    upgrade(url)
    start = time.perf_counter()
    fill(db, n)
    print(f"{db.engine.dialect.name}: {n} invoices written in {time.perf_counter() - start:.0f} s")
    now = utcnow()
    cases = {
        "no filter": InvoiceFilter(),
        "status=Open": InvoiceFilter(statuses=("Opened",)),
        "status=Overdue": InvoiceFilter(statuses=("Overdue",)),
        "value=100.00": InvoiceFilter(value_cents=10_000),
        "friendlyId": InvoiceFilter(friendly_id="F777"),
        "one account": InvoiceFilter(account_id="acc7"),
        "one account, status=Open": InvoiceFilter(account_id="acc7", statuses=("Opened",)),
        "created in one day": InvoiceFilter(
            created_from=now - timedelta(days=101), created_to=now - timedelta(days=100)
        ),
        "observation contains": InvoiceFilter(observation="boleto"),
    }
    for label, f in cases.items():
        with db.transaction() as session:
            timed(
                f"{label}: first page",
                lambda f=f, s=session: search_invoices(s, f, now, limit=20, direction="asc"),
            )
            timed(
                f"{label}: page at 500,000",
                lambda f=f, s=session: search_invoices(
                    s, f, now, offset=500_000, limit=20, direction="asc"
                ),
            )
            timed(f"{label}: summary", lambda f=f, s=session: invoice_summary(s, f, now))
    db.dispose()


if __name__ == "__main__":
    main()
