"""Helpers for the bulk tests: files written as spreadsheets save them, imports run in-process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.bulk.history import ImportJob, ImportRowError
from connector.bulk.runner import run_import, start_file_import
from connector.credit.models import Account, Holder, StatementEntry
from connector.db import Database

WriteFile = Callable[..., Path]
RunImport = Callable[..., ImportJob]


@pytest.fixture
def write_file(tmp_path: Path) -> WriteFile:
    """Write CSV text to a file in an encoding (``\\n`` becomes CRLF, as Excel saves)."""
    counter = iter(range(10_000))

    def write(text: str, *, encoding: str = "utf-8", name: str | None = None) -> Path:
        path = tmp_path / (name or f"file{next(counter)}.csv")
        path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
        return path

    return write


@pytest.fixture
def run_file(db: Database) -> RunImport:
    """Import a file in this process, as ``connector import`` does; returns the ended import."""

    def run(
        path: Path,
        kind: str = "accounts",
        mode: str = "create",
        *,
        dry_run: bool = False,
        chunk_size: int = 1000,
        resume: bool = True,
    ) -> ImportJob:
        started = start_file_import(
            db,
            path,
            kind=kind,
            mode=mode,
            dry_run=dry_run,
            chunk_size=chunk_size,
            resume=resume,
            requested_by="tester",
        )
        with path.open("rb") as stream:
            return run_import(db, started.job.id, started.token, stream)

    return run


def row_errors(db: Database, job_id: str) -> list[tuple[int, str | None, str | None, str]]:
    """(row, column, value, code) of every error of an import, in row order."""
    with db.transaction() as session:
        return [
            (e.row_number, e.column_name, e.value, e.code)
            for e in session.scalars(
                select(ImportRowError)
                .where(ImportRowError.job_id == job_id)
                .order_by(ImportRowError.row_number, ImportRowError.position)
            )
        ]


def counts(job: ImportJob) -> tuple[int, int, int, int]:
    """(created, updated, unchanged, failed)."""
    return (job.created_count, job.updated_count, job.unchanged_count, job.failed_count)


def ledger_state(session: Session) -> list[tuple[object, ...]]:
    """Every account with its figures, holders and entries: what two runs must agree on."""
    accounts = session.scalars(select(Account).order_by(Account.id)).all()
    state: list[tuple[object, ...]] = []
    for a in accounts:
        holders = sorted(
            (h.email, h.level, h.removed_at is None)
            for h in session.scalars(select(Holder).where(Holder.account_id == a.id))
        )
        entries = sorted(
            (e.origin, e.value_cents)
            for e in session.scalars(
                select(StatementEntry).where(StatementEntry.account_id == a.id)
            )
        )
        state.append(
            (
                a.id,
                a.email,
                a.document,
                a.document_type,
                a.status,
                a.credit_limit_cents,
                a.tolerance_bps,
                a.balance_cents,
                a.reserved_cents,
                tuple(holders),
                tuple(entries),
            )
        )
    return state
