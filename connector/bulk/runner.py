"""Running an import: the file read in chunks, each chunk one transaction.

The edge owns the transaction. Each chunk's rows are parsed first (no transaction
open), then one transaction applies them through the credit services and records the
chunk as done in the import's history, so a chunk and its record commit together. A run
killed halfway is resumed by skipping the chunks recorded as done; because every row's
effect is idempotent (an account that exists with the same data is unchanged, paying a
paid invoice is a no-op), a fresh run of the same file reaches the same end state too.

A dry run applies each chunk the same way and rolls it back, so it reports what the
services would refuse, not only what the parser does; its counts say what would happen.
"""

from __future__ import annotations

import getpass
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar

from sqlalchemy.orm import Session

from connector import audit
from connector.bulk import accounts_import, invoices_import
from connector.bulk.claims import (
    LostClaim,
    claim_job,
    find_resumable,
    finish_job,
    next_queued_jobs,
    record_chunk,
    set_layout,
)
from connector.bulk.csvio import Column, FileProblem, Sheet, SheetRow, open_sheet, read_facts
from connector.bulk.files import open_upload
from connector.bulk.history import (
    COMPLETED,
    FAILED,
    INTERRUPTED,
    ChunkCounts,
    ImportJob,
    RowError,
    create_job,
    get_job,
)
from connector.bulk.report import Outcome
from connector.bulk.sheet_formats import file_format
from connector.bulk.templates import is_example
from connector.clock import utcnow
from connector.db import Database
from connector.errors import N_, ValidationError

log = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS = 1000
MAX_CHUNK_ROWS = 5000
RETRY_INTERRUPTED_SECONDS = 60  # an upload that stopped on an error is retried after this

T = TypeVar("T")


class Importer(Protocol):
    def parse(self, row: SheetRow) -> Any: ...

    def apply(
        self, session: Session, rows: Sequence[Any], *, done_by: str, now: datetime
    ) -> list[Outcome]: ...


def columns_for(kind: str, mode: str) -> Sequence[Column]:
    if kind == "accounts":
        return accounts_import.columns_for(mode)
    return invoices_import.columns_for(mode)


def check_request(kind: str, mode: str) -> None:
    """Refuse a kind or mode that does not exist, naming the bad field."""
    if kind not in ("accounts", "invoices"):
        raise ValidationError("unknown import", fields={"kind": "accounts or invoices"})
    allowed: tuple[str, ...]
    if kind == "accounts":
        allowed, reason = accounts_import.MODES, N_("create or update")
    else:
        allowed, reason = ("update",), N_("update")
    if mode not in allowed:
        raise ValidationError("unknown mode", fields={"mode": reason})


def importer_for(kind: str, mode: str, sheet: Sheet) -> Importer:
    """The importer of a file, with the parsers of its format (chosen once, from its header)."""
    columns = columns_for(kind, mode)
    found = file_format([*sheet.titles.values(), *sheet.ignored], sheet.delimiter)

    def title(field: str) -> str:
        return sheet.title(field, columns)

    if kind == "accounts":
        return accounts_import.AccountsImport(mode, title, found)
    return invoices_import.InvoicesImport(title, list(sheet.titles), found)


def data_rows(sheet: Sheet) -> Iterator[SheetRow]:
    """The rows to import: a template's example row, left in the file, is skipped."""
    return (row for row in sheet.rows() if not is_example(row.cells))


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@contextmanager
def _rolled_back(db: Database) -> Iterator[Session]:
    """A transaction that is always rolled back: a dry run's chunk."""
    with db.sessionmaker() as session:
        session.begin()
        try:
            yield session
        finally:
            session.rollback()


@dataclass
class Progress:
    """Where an import stands, as the CLI's progress bar and summary show it."""

    rows_done: int
    rows_total: int
    counts: ChunkCounts


ProgressCallback = Callable[[Progress], None]


def run_import(
    db: Database,
    job_id: str,
    token: str,
    stream: BinaryIO,
    *,
    on_progress: ProgressCallback | None = None,
    pause_after_chunk: float = 0.0,
) -> ImportJob:
    """Run a claimed import to its end, resuming after its last recorded chunk.

    Returns the import as it ended. A file-level problem (no header, a missing column,
    an unreadable row) fails it; any other exception leaves it interrupted, resumable,
    and is raised again.
    """
    with db.transaction() as session:
        job = get_job(session, job_id)
    try:
        with audit.acting_as(audit.IMPORT, job.id):
            return _run(db, job, token, stream, on_progress, pause_after_chunk)
    except LostClaim:
        log.warning("import %s was taken over by another worker; stopping", job_id)
        raise
    except BaseException as exc:
        _interrupt(db, job_id, token, exc)
        raise


def _run(
    db: Database,
    job: ImportJob,
    token: str,
    stream: BinaryIO,
    on_progress: ProgressCallback | None,
    pause_after_chunk: float,
) -> ImportJob:
    counts = ChunkCounts(
        job.created_count, job.updated_count, job.unchanged_count, job.failed_count
    )
    try:
        sheet = open_sheet(stream, job.encoding, columns_for(job.kind, job.mode))
    except FileProblem as problem:
        return _fail(db, job, token, problem)
    with db.transaction() as session:
        set_layout(session, job.id, token, delimiter=sheet.delimiter, ignored=sheet.ignored)
    importer = importer_for(job.kind, job.mode, sheet)
    rows_total = max(job.rows_total, job.rows_done)
    for index, rows in enumerate(chunks(data_rows(sheet), job.chunk_size)):
        if index < job.chunks_done:
            continue  # committed before this run began
        chunk = _run_chunk(db, job, token, importer, index, rows)
        for name in ("created", "updated", "unchanged", "failed"):
            setattr(counts, name, getattr(counts, name) + getattr(chunk, name))
        if on_progress is not None:
            done = counts.rows
            on_progress(Progress(done, max(rows_total, done), counts))
        if pause_after_chunk:
            time.sleep(pause_after_chunk)
    if sheet.problem is not None:  # a row that could not be read ended the file early
        return _fail(db, job, token, sheet.problem)
    with db.transaction() as session:
        finish_job(session, job.id, token, status=COMPLETED)
        return get_job(session, job.id)


def _run_chunk(
    db: Database, job: ImportJob, token: str, importer: Importer, index: int, rows: list[SheetRow]
) -> ChunkCounts:
    """Parse a chunk, then apply and record it in one transaction (a dry run: two)."""
    parsed: list[Any] = []
    outcomes: dict[int, Outcome] = {}
    for row in rows:
        result = importer.parse(row)
        if isinstance(result, Outcome):
            outcomes[row.number] = result
        else:
            parsed.append(result)
    now = utcnow()
    if job.dry_run:
        with _rolled_back(db) as session:
            applied = importer.apply(session, parsed, done_by=job.requested_by, now=now)
        outcomes.update({o.row: o for o in applied})
        counts, errors = _tally(rows, outcomes)
        with db.transaction() as session:
            record_chunk(session, job.id, token, index=index, counts=counts, errors=errors, now=now)
        return counts
    with db.transaction() as session:
        applied = importer.apply(session, parsed, done_by=job.requested_by, now=now)
        outcomes.update({o.row: o for o in applied})
        counts, errors = _tally(rows, outcomes)
        record_chunk(session, job.id, token, index=index, counts=counts, errors=errors, now=now)
    return counts


def _tally(
    rows: list[SheetRow], outcomes: dict[int, Outcome]
) -> tuple[ChunkCounts, list[RowError]]:
    counts = ChunkCounts()
    errors: list[RowError] = []
    for row in rows:
        outcome = outcomes[row.number]
        setattr(counts, outcome.result, getattr(counts, outcome.result) + 1)
        errors.extend(outcome.errors)
    return counts, errors


def _fail(db: Database, job: ImportJob, token: str, problem: FileProblem) -> ImportJob:
    error = RowError(problem.row, problem.column, None, problem.code, problem.message)
    with db.transaction() as session:
        finish_job(session, job.id, token, status=FAILED, message=problem.message, errors=[error])
        return get_job(session, job.id)


def _interrupt(db: Database, job_id: str, token: str, exc: BaseException) -> None:
    """Leave the import resumable, saying why it stopped (if the database still answers)."""
    reason = "stopped by the user" if isinstance(exc, KeyboardInterrupt) else f"stopped: {exc}"
    try:
        with db.transaction() as session:
            finish_job(session, job_id, token, status=INTERRUPTED, message=reason[:2000])
    except Exception:  # the original error matters more than this one
        log.exception("could not record import %s as interrupted", job_id)


# --- Entry points -------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    job: ImportJob
    token: str
    resumed: bool


def start_file_import(
    db: Database,
    path: Path,
    *,
    kind: str,
    mode: str,
    dry_run: bool,
    requested_by: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_ROWS,
    resume: bool = True,
) -> Started:
    """Claim an import of a local file: the unfinished import of the same file, kind and
    mode when one was interrupted (and ``resume``), else a new one."""
    check_request(kind, mode)
    with path.open("rb") as stream:
        facts = read_facts(stream)
    with db.transaction() as session:
        if resume:
            previous = find_resumable(
                session, kind=kind, mode=mode, dry_run=dry_run, sha256=facts.sha256, now=utcnow()
            )
            if previous is not None:
                token = claim_job(session, previous)
                if token is not None:
                    return Started(get_job(session, previous.id), token, resumed=True)
        job = create_job(
            session,
            kind=kind,
            mode=mode,
            dry_run=dry_run,
            source="cli",
            requested_by=requested_by or f"cli:{getpass.getuser()}",
            file_name=path.name,
            facts=facts,
            chunk_size=max(1, min(chunk_size, MAX_CHUNK_ROWS)),
        )
        token = claim_job(session, job)
        assert token is not None  # nobody else knows this job yet
        return Started(get_job(session, job.id), token, resumed=False)


def run_queued_imports(db: Database, *, now: datetime | None = None) -> int:
    """Run the uploaded imports that wait (the scheduler's job); returns how many ran.

    Several schedulers may call this at once: each import is claimed with a
    compare-and-set update, so exactly one of them runs it.
    """
    ran = 0
    with db.transaction() as session:
        candidates = [job.id for job in next_queued_jobs(session)]
    for job_id in candidates:
        moment = now or utcnow()
        with db.transaction() as session:
            job = get_job(session, job_id)
            retry_after = (job.heartbeat_at or job.created_at) + timedelta(
                seconds=RETRY_INTERRUPTED_SECONDS
            )
            if job.status == INTERRUPTED and moment < retry_after:
                continue
            token = claim_job(session, job, now=moment)
        if token is None:
            continue
        try:
            run_import(db, job_id, token, open_upload(db, job_id))
        except LostClaim:
            continue
        ran += 1
    return ran
