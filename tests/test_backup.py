"""The README's restore drill: a ``pg_dump`` of a working database, restored into a
scratch one, passes ``connector check`` and holds the same accounts and figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from connector.credit.models import Account
from connector.db import Database
from tests import factories
from tests.server import environment

pytestmark = pytest.mark.postgres_only


def figures(db: Database) -> list[tuple[str, int, int, int]]:
    with db.transaction() as session:
        rows = session.execute(
            select(
                Account.id,
                Account.credit_limit_cents,
                Account.balance_cents,
                Account.reserved_cents,
            ).order_by(Account.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_dump_restored_into_a_scratch_database_checks_clean(db: Database, tmp_path: Path) -> None:
    if not db.is_postgresql:
        pytest.skip("the restore drill is PostgreSQL's (pg_dump, pg_restore)")
    for n in range(1, 4):
        factories.settled_purchase(db, email=f"drill{n}@example.com", installments=n)
    url = make_url(db.url)
    libpq = {
        **os.environ,
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "",
        "PGPASSWORD": url.password or "",
    }
    dump = tmp_path / "connector.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={dump}", url.database or ""], env=libpq, check=True
    )
    drill = f"{url.database}_drill"
    admin = db.engine.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{drill}"'))
        connection.execute(text(f'CREATE DATABASE "{drill}"'))
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", f"--dbname={drill}", str(dump)], env=libpq, check=True
        )
        restored_url = url.set(database=drill).render_as_string(hide_password=False)
        check = subprocess.run(
            [sys.executable, "-m", "connector.cli", "check"],
            env=environment(db, tmp_path, DATABASE_URL=restored_url),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        restored = Database(restored_url)
        try:
            assert figures(restored) == figures(db) and len(figures(db)) == 3
        finally:
            restored.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{drill}" WITH (FORCE)'))
