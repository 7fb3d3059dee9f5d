"""The set-wise account import against the row-by-row reference, on SQLite and PostgreSQL.

The same files (create mode, then update mode) run through the import as it is (waves,
set-wise lookups, ``bulk_write``'s COPY or executemany) and through
``RowByRowAccountsImport`` (one service call per row, the ORM writing), each into an
emptied database seeded the same way; the end states must be the same row by row:
accounts, holders, statement entries, audit entries and the imports' reports. Only the
ids that are random (holders', entries', accounts opened without a document or an Id,
the imports' own) are replaced by what names the row.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.audit import AuditEntry
from connector.bulk import runner
from connector.bulk.csvio import Sheet
from connector.bulk.history import ImportJob, ImportRowError
from connector.credit.accounts import close_account, open_account
from connector.credit.check import find_drift
from connector.credit.models import Account, Holder, StatementEntry
from connector.db import Database
from tests.bulk.conftest import RunImport, WriteFile
from tests.bulk.row_by_row import RowByRowAccountsImport
from tests.conftest import _empty_tables
from tests.factories import NOW, valid_cpf

HEADER = "Email,Document,Document Type,Credit limit,Tolerance rate,Company name,Id\n"
# A fresh id, or a default one with a random tail (its default was a closed account's).
_RANDOM_ID = re.compile(r"^[0-9a-f]{32}$|_[0-9a-f]{8}$")


def seed(db: Database) -> None:
    """Accounts the files find: one by document, one by e-mail only, one closed."""
    with db.transaction() as session:
        open_account(
            session,
            email="kept@example.com",
            document=valid_cpf(101),
            document_type="CPF",
            credit_limit_cents=100_000,
            tolerance_bps=500,
            now=NOW,
        )
        open_account(
            session,
            email="mailonly@example.com",
            account_id="MAIL-ONLY",
            credit_limit_cents=5000,
            now=NOW,
        )
        open_account(
            session,
            email="byemail@example.com",
            account_id="BY-EMAIL",
            credit_limit_cents=700,
            now=NOW,
        )
        open_account(
            session,
            email="closed@example.com",
            document=valid_cpf(102),
            document_type="CPF",
            credit_limit_cents=1000,
            now=NOW,
        )
        close_account(session, f"{valid_cpf(102)}_CPF", now=NOW)


CREATE = HEADER + "".join(
    [
        f"new1@example.com,{valid_cpf(1)},CPF,100.50,0.05,Acme,\n",  # new
        f"kept@example.com,{valid_cpf(101)},CPF,1000,0.05,,\n",  # unchanged
        f"kept@example.com,{valid_cpf(101)},CPF,2000,0.05,,\n",  # differs: refused
        "bad-email,123,CPF,ten,2,,\n",  # refused by the parser
        f"new1@example.com,{valid_cpf(1)},CPF,100.50,0.05,Acme,\n",  # repeated: unchanged
        f"other@example.com,{valid_cpf(1)},CPF,100.50,0.05,,\n",  # repeated document, other data
        "nodoc@example.com,,,300,,,\n",  # new, random id
        "mailonly@example.com,,,5000,,,\n",  # existing by e-mail: unchanged
        "kept@example.com,,,10,,,\n",  # e-mail held by an open account: refused
        f"reopen@example.com,{valid_cpf(102)},CPF,50,,,\n",  # closed account's document
        "withid@example.com,,,75,0.1,,MY-ID\n",  # new with its Id
        "withid2@example.com,,,75,0.1,,MY-ID\n",  # the same Id again: refused
        f"cnpj@example.com,{valid_cpf(3)},CNPJ,10,,,\n",  # wrong check digits for a CNPJ
        "toler@example.com,,,10,150%,,\n",  # tolerance out of range
        f"new1@example.com,{valid_cpf(5)},CPF,10,,,\n",  # e-mail taken: the service refuses
        *[
            f"bulk{n}@example.com,{valid_cpf(200 + n)},CPF,{n}.{n:02d},0.0{n % 10},,\n"
            for n in range(12)
        ],
    ]
)

UPDATE = HEADER + "".join(
    [
        ",,,999,,,MAIL-ONLY\n",  # changed by id: limit
        ",,,999,,,MAIL-ONLY\n",  # repeated: unchanged now
        f",{valid_cpf(101)},,1500,0.1,Kept Ltd,\n",  # changed by document
        "byemail@example.com,98765432100,Other,,,,\n",  # gets a document, found by e-mail
        "new1@example.com,,,,,Acme,\n",  # unchanged
        "ghost@example.com,,,10,,,\n",  # no such account
        ",,,10,,,NOPE\n",  # no such id
        f",{valid_cpf(102)},,10,,,{valid_cpf(102)}_CPF\n",  # closed: refused
        "kept@example.com,,,,,,MAIL-ONLY\n",  # e-mail held by another account: refused
        "mail2@example.com,,,,,,MAIL-ONLY\n",  # new owner e-mail
        "mail3@example.com,,,,,,MAIL-ONLY\n",  # again, later in the file
        ",,,-5,,,MY-ID\n",  # negative limit: refused
        ",,,,,Nobody Ltd,\n",  # no key
        *[f",{valid_cpf(200 + n)},,{n + 1}00,,,\n" for n in range(0, 12, 2)],
    ]
)


def _reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the runner use the row-by-row reference importer."""
    real = runner.importer_for

    def importer_for(kind: str, mode: str, sheet: Sheet) -> Any:
        found = real(kind, mode, sheet)
        return RowByRowAccountsImport(mode, found.title, found.format)  # type: ignore[attr-defined]

    monkeypatch.setattr(runner, "importer_for", importer_for)


def state(session: Session, jobs: list[ImportJob]) -> dict[str, Any]:
    """Every row the imports wrote, with random ids replaced by what names their row."""
    opened = {
        e.subject_id: e.after["email"]
        for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "account.opened"))
    }

    def name(account_id: str | None) -> str | None:
        if account_id is not None and _RANDOM_ID.search(account_id):
            return f"opened for {opened[account_id]}"
        return account_id

    def values(row: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        return {
            c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs if c.key not in skip
        }

    accounts = sorted(
        (name(a.id), sorted(values(a, ("id",)).items())) for a in session.scalars(select(Account))
    )
    holders = sorted(
        (name(h.account_id), sorted(values(h, ("id", "account_id")).items()))
        for h in session.scalars(select(Holder))
    )
    entries = sorted(
        (name(e.account_id), repr(sorted(values(e, ("id", "account_id")).items())))
        for e in session.scalars(select(StatementEntry))
    )
    trail = sorted(
        (
            name(e.account_id),
            name(e.subject_id),
            e.action,
            e.actor_kind,
            repr(sorted(e.before.items())),
            repr(sorted(e.after.items())),
            e.at,
            e.note,
        )
        for e in session.scalars(select(AuditEntry))
    )
    reports = [
        (
            job.status,
            job.rows_done,
            (job.created_count, job.updated_count, job.unchanged_count, job.failed_count),
            [
                (e.row_number, e.column_name, e.value, e.code, e.reason)
                for e in session.scalars(
                    select(ImportRowError)
                    .where(ImportRowError.job_id == job.id)
                    .order_by(ImportRowError.row_number, ImportRowError.position)
                )
            ],
        )
        for job in jobs
    ]
    # As stored, before SQLAlchemy reads them: moments and JSON in the same text (SQLite
    # compares moments as text) or the same types.
    stored = {
        table: sorted(
            map(repr, session.connection().exec_driver_sql(f"SELECT {columns} FROM {table}"))  # noqa: S608 (our names)
        )
        for table, columns in (
            ("accounts", "created_at, updated_at, closed_at"),
            ("holders", "created_at, removed_at"),
            ("statement_entries", "created_at, metadata"),
            ("audit_entries", "at, before, after"),
        )
    }
    return {
        "stored": stored,
        "accounts": accounts,
        "holders": holders,
        "entries": entries,
        "audit": trail,
        "reports": reports,
    }


def run_both(
    database: Database,
    files: list[tuple[Path, str]],
    run: Callable[..., ImportJob],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The end state after the set-wise import, then after the reference on a fresh seed."""
    monkeypatch.setattr(runner, "utcnow", lambda: NOW)
    results = []
    for reference in (False, True):
        _empty_tables(database)
        seed(database)
        with monkeypatch.context() as patched:
            if reference:
                _reference(patched)
            jobs = [run(path, mode=mode, chunk_size=chunk) for path, mode, chunk in files]
        with database.transaction() as session:
            results.append(state(session, jobs))
            assert find_drift(session) == []
    return results[0], results[1]


def _runner(database: Database) -> Callable[..., ImportJob]:
    def run(path: Path, *, mode: str, chunk_size: int) -> ImportJob:
        started = runner.start_file_import(
            database,
            path,
            kind="accounts",
            mode=mode,
            dry_run=False,
            chunk_size=chunk_size,
            resume=False,
            requested_by="tester",
        )
        with path.open("rb") as stream:
            return runner.run_import(database, started.job.id, started.token, stream)

    return run


@pytest.mark.parametrize("backend", ["db", "pg"])
@pytest.mark.parametrize("chunk", [1000, 4])
def test_set_wise_import_ends_as_the_row_by_row_reference(
    backend: str,
    chunk: int,
    request: pytest.FixtureRequest,
    write_file: WriteFile,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database: Database = request.getfixturevalue(backend)
    files = [(write_file(CREATE), "create", chunk), (write_file(UPDATE), "update", chunk)]
    set_wise, reference = run_both(database, files, _runner(database), monkeypatch)
    for part in ("reports", "accounts", "holders", "entries", "audit", "stored"):
        assert set_wise[part] == reference[part], part
    # Every kind of row happened: (created, updated, unchanged, failed) of each file.
    assert [report[2] for report in set_wise["reports"]] == [(16, 0, 2, 9), (0, 11, 2, 6)]


def test_a_rerun_of_the_same_file_changes_nothing(
    db: Database, write_file: WriteFile, run_file: RunImport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The set-wise path's writes are idempotent as the runner's resume needs."""
    monkeypatch.setattr(runner, "utcnow", lambda: NOW)
    seed(db)
    path = write_file(CREATE)
    first = run_file(path)
    with db.transaction() as session:
        before = state(session, [])
    again = run_file(path, resume=False)
    with db.transaction() as session:
        assert state(session, []) == before
        assert find_drift(session) == []
    assert again.created_count == 0
    assert again.unchanged_count == first.created_count + first.unchanged_count
