"""The import history: one row per import, its row errors, and how an import reads now.

Statuses: ``queued`` (uploaded, waiting for the scheduler), ``running``, ``interrupted``
(stopped before the end; resumable), ``completed`` (every row handled; some may have
failed) and ``failed`` (the file itself could not be imported). A ``running`` import
whose worker is gone (its process no longer exists on this host, or its heartbeat is
older than ``LEASE_SECONDS``) is shown as ``interrupted`` and may be resumed. Claiming an
import and recording its chunks are in ``claims``; its uploaded file is in ``files``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from connector.bulk.csvio import FileFacts
from connector.clock import utcnow
from connector.db import Base
from connector.errors import Code, NotFound
from connector.ids import new_id

QUEUED = "queued"
RUNNING = "running"
INTERRUPTED = "interrupted"
COMPLETED = "completed"
FAILED = "failed"
FINAL = (COMPLETED, FAILED)
LEASE_SECONDS = 300  # a worker that has not recorded a chunk for this long is presumed dead
MAX_VALUE_CHARS = 500  # a cell quoted in the report is cut to this length


class ImportJob(Base):
    """One import: who, when, which file, how far it got and what came of its rows."""

    __tablename__ = "import_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    # Where it runs: "cli" in the command's process; "api" uploaded over HTTP (the API or
    # the admin's Bulk page; ``requested_by`` tells which) and run by the scheduler.
    source: Mapped[str] = mapped_column(String(8))
    requested_by: Mapped[str] = mapped_column(String(254))
    file_name: Mapped[str] = mapped_column(String(255))
    file_size: Mapped[int] = mapped_column(BigInteger)
    file_sha256: Mapped[str] = mapped_column(String(64))
    encoding: Mapped[str] = mapped_column(String(16))
    delimiter: Mapped[str | None] = mapped_column(String(4))
    ignored_columns: Mapped[list[str]] = mapped_column(JSON)
    chunk_size: Mapped[int] = mapped_column(Integer)
    chunks_done: Mapped[int] = mapped_column(Integer)
    rows_total: Mapped[int] = mapped_column(Integer)  # an estimate until the import ends
    rows_done: Mapped[int] = mapped_column(Integer)
    created_count: Mapped[int] = mapped_column(Integer)
    updated_count: Mapped[int] = mapped_column(Integer)
    unchanged_count: Mapped[int] = mapped_column(Integer)
    failed_count: Mapped[int] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(255))  # host:pid of the claimant
    claim_token: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("kind IN ('accounts', 'invoices')", name="kind"),
        CheckConstraint("mode IN ('create', 'update')", name="mode"),
        CheckConstraint(
            "status IN ('queued', 'running', 'interrupted', 'completed', 'failed')",
            name="status",
        ),
        CheckConstraint("source IN ('cli', 'api')", name="source"),
        CheckConstraint("chunk_size > 0", name="chunk_size"),
        Index("ix_import_jobs_created_at", "created_at", "id"),
        Index("ix_import_jobs_status", "status", "created_at"),
        Index("ix_import_jobs_file_sha256", "file_sha256"),
    )


class ImportRowError(Base):
    """One reason a row was refused: row number, column, the cell's value, the reason."""

    __tablename__ = "import_row_errors"

    job_id: Mapped[str] = mapped_column(ForeignKey("import_jobs.id"), primary_key=True)
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    column_name: Mapped[str | None] = mapped_column("column", String(255))
    value: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)


class ImportFilePart(Base):
    """A mebibyte of an uploaded file, kept in the database so any worker can run the import;
    deleted when the import ends."""

    __tablename__ = "import_file_parts"

    job_id: Mapped[str] = mapped_column(ForeignKey("import_jobs.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


@dataclass(frozen=True)
class RowError:
    """Why a row (or the file, as row 0 or the header's row) was refused."""

    row: int
    column: str | None
    value: str | None
    code: str
    reason: str


@dataclass
class ChunkCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _worker_is_gone(worker: str | None) -> bool:
    """Whether the worker was a process on this host that no longer exists."""
    if not worker or ":" not in worker:
        return False
    host, _, pid_text = worker.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def effective_status(job: ImportJob, now: datetime) -> str:
    """The stored status, except that a running import whose worker is gone is interrupted."""
    if job.status == RUNNING and is_abandoned(job, now):
        return INTERRUPTED
    return job.status


def is_abandoned(job: ImportJob, now: datetime) -> bool:
    heartbeat = job.heartbeat_at or job.started_at or job.created_at
    return heartbeat < now - timedelta(seconds=LEASE_SECONDS) or _worker_is_gone(job.worker)


def create_job(
    session: Session,
    *,
    kind: str,
    mode: str,
    dry_run: bool,
    source: str,
    requested_by: str,
    file_name: str,
    facts: FileFacts,
    chunk_size: int,
    status: str = QUEUED,
    now: datetime | None = None,
) -> ImportJob:
    """Record a new import; ``rows_total`` starts as the file's line count less the header."""
    now = now or utcnow()
    job = ImportJob(
        id=new_id(),
        kind=kind,
        mode=mode,
        dry_run=dry_run,
        status=status,
        source=source,
        requested_by=requested_by[:254],
        file_name=(os.path.basename(file_name) or "upload.csv")[:255],
        delimiter=None,
        ignored_columns=[],
        chunk_size=chunk_size,
        chunks_done=0,
        rows_done=0,
        created_count=0,
        updated_count=0,
        unchanged_count=0,
        failed_count=0,
        message=None,
        worker=None,
        claim_token=None,
        created_at=now,
        started_at=None,
        heartbeat_at=None,
        finished_at=None,
    )
    record_facts(job, facts)
    session.add(job)
    session.flush()
    return job


def record_facts(job: ImportJob, facts: FileFacts) -> None:
    """What the stored file is: size, digest, encoding and data rows (header excluded)."""
    job.file_size, job.file_sha256, job.encoding = facts.size, facts.sha256, facts.encoding
    job.rows_total = max(facts.lines - 1, 0)


def get_job(session: Session, job_id: str) -> ImportJob:
    job = session.get(ImportJob, job_id, populate_existing=True)
    if job is None:
        raise NotFound("import {job} not found", code=Code.IMPORT_NOT_FOUND, job=repr(job_id))
    return job


def list_jobs(
    session: Session, *, kind: str | None = None, offset: int = 0, limit: int = 50
) -> list[ImportJob]:
    """The history, newest first."""
    query = select(ImportJob).order_by(ImportJob.created_at.desc(), ImportJob.id.desc())
    if kind is not None:
        query = query.where(ImportJob.kind == kind)
    return list(session.scalars(query.offset(offset).limit(limit)))


def count_jobs(session: Session, *, kind: str | None = None) -> int:
    query = select(func.count()).select_from(ImportJob)
    if kind is not None:
        query = query.where(ImportJob.kind == kind)
    return int(session.scalar(query) or 0)


def iter_errors(
    session: Session, job_id: str, *, limit: int | None = None
) -> Iterator[ImportRowError]:
    """Every row error of an import (or the first ``limit``), in row order, streamed."""
    query = (
        select(ImportRowError)
        .where(ImportRowError.job_id == job_id)
        .order_by(ImportRowError.row_number, ImportRowError.position)
        .limit(limit)
        .execution_options(yield_per=1000)
    )
    yield from session.scalars(query)


def job_to_dict(job: ImportJob, now: datetime | None = None) -> dict[str, Any]:
    """An import as the API shows it."""
    now = now or utcnow()
    status = effective_status(job, now)
    total = job.rows_done if status in FINAL else max(job.rows_total, job.rows_done)
    return {
        "id": job.id,
        "kind": job.kind,
        "mode": job.mode,
        "dryRun": job.dry_run,
        "status": status,
        "source": job.source,
        "requestedBy": job.requested_by,
        "fileName": job.file_name,
        "fileSize": job.file_size,
        "fileSha256": job.file_sha256,
        "encoding": job.encoding,
        "delimiter": job.delimiter,
        "ignoredColumns": list(job.ignored_columns or []),
        "progress": {
            "rowsDone": job.rows_done,
            "rowsTotal": total,
            "percent": 100 if status == COMPLETED else _percent(job.rows_done, total),
        },
        "counts": {
            "created": job.created_count,
            "updated": job.updated_count,
            "unchanged": job.unchanged_count,
            "failed": job.failed_count,
        },
        "message": job.message,
        "createdAt": job.created_at,
        "startedAt": job.started_at,
        "finishedAt": job.finished_at,
    }


def _percent(done: int, total: int) -> int:
    return min(99, done * 100 // total) if total else 0
