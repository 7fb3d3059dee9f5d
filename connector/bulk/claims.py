"""Claiming an import for one worker, and recording its chunks under that claim.

An import is claimed by one worker at a time. The claim is a random token written by a
compare-and-set ``UPDATE``; every chunk's progress is recorded with an ``UPDATE`` that
names that token, in the same transaction as the chunk's writes, so a worker that lost
its claim (it was presumed dead and another took over) can never commit a chunk.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.orm import Session

from connector.bulk.files import delete_upload
from connector.bulk.history import (
    FINAL,
    INTERRUPTED,
    MAX_VALUE_CHARS,
    QUEUED,
    RUNNING,
    ChunkCounts,
    ImportJob,
    ImportRowError,
    RowError,
    is_abandoned,
    this_worker,
)
from connector.clock import utcnow


class LostClaim(Exception):
    """Another worker took this import over; this one must stop without committing."""


def claim_job(
    session: Session, job: ImportJob, *, worker: str | None = None, now: datetime | None = None
) -> str | None:
    """Take ``job`` for this worker if it is still as read (queued, or abandoned); the
    token to record its chunks with, or None when another worker got there first.

    ``job`` may come from another session; read it again (``get_job``) to see the claim.
    """
    now = now or utcnow()
    if job.status in FINAL or (job.status == RUNNING and not is_abandoned(job, now)):
        return None
    token = secrets.token_hex(16)
    same_claim = (
        ImportJob.claim_token.is_(None)
        if job.claim_token is None
        else ImportJob.claim_token == job.claim_token
    )
    result = cast(
        CursorResult[Any],
        session.execute(
            update(ImportJob)
            .where(ImportJob.id == job.id, ImportJob.status == job.status, same_claim)
            .values(
                status=RUNNING,
                claim_token=token,
                worker=worker or this_worker(),
                heartbeat_at=now,
                started_at=job.started_at or now,
                message=None,
            )
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        return None
    return token


def next_queued_jobs(session: Session, limit: int = 20) -> list[ImportJob]:
    """Uploaded imports waiting to run, or left running by a worker that is gone."""
    return list(
        session.scalars(
            select(ImportJob)
            .where(
                ImportJob.source == "api",
                ImportJob.status.in_((QUEUED, RUNNING, INTERRUPTED)),
            )
            .order_by(ImportJob.created_at, ImportJob.id)
            .limit(limit)
        )
    )


def find_resumable(
    session: Session, *, kind: str, mode: str, dry_run: bool, sha256: str, now: datetime
) -> ImportJob | None:
    """The latest unfinished import of the same file, kind and mode that nobody is running."""
    candidates = session.scalars(
        select(ImportJob)
        .where(
            ImportJob.file_sha256 == sha256,
            ImportJob.kind == kind,
            ImportJob.mode == mode,
            ImportJob.dry_run.is_(dry_run),
            ImportJob.status.in_((RUNNING, INTERRUPTED)),
        )
        .order_by(ImportJob.created_at.desc(), ImportJob.id.desc())
    )
    for job in candidates:
        if job.status == INTERRUPTED or is_abandoned(job, now):
            return job
    return None


def _guarded(job_id: str, token: str) -> Any:
    return (
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.claim_token == token)
        .execution_options(synchronize_session=False)
    )


def _apply(session: Session, statement: Any) -> None:
    result = cast(CursorResult[Any], session.execute(statement))
    if result.rowcount != 1:
        raise LostClaim("another worker has taken this import over")


def set_layout(
    session: Session, job_id: str, token: str, *, delimiter: str, ignored: Sequence[str]
) -> None:
    _apply(
        session, _guarded(job_id, token).values(delimiter=delimiter, ignored_columns=list(ignored))
    )


def record_chunk(
    session: Session,
    job_id: str,
    token: str,
    *,
    index: int,
    counts: ChunkCounts,
    errors: Sequence[RowError] = (),
    now: datetime | None = None,
) -> None:
    """Record chunk ``index`` (0-based) as done, with its counts and row errors.

    Called in the transaction that wrote the chunk, so the chunk and its record commit
    together; the condition on ``chunks_done`` makes recording a chunk twice impossible.
    """
    now = now or utcnow()
    _apply(
        session,
        _guarded(job_id, token)
        .where(ImportJob.chunks_done == index)
        .values(
            chunks_done=index + 1,
            rows_done=ImportJob.rows_done + counts.rows,
            created_count=ImportJob.created_count + counts.created,
            updated_count=ImportJob.updated_count + counts.updated,
            unchanged_count=ImportJob.unchanged_count + counts.unchanged,
            failed_count=ImportJob.failed_count + counts.failed,
            heartbeat_at=now,
        ),
    )
    _insert_errors(session, job_id, errors)


def _insert_errors(session: Session, job_id: str, errors: Sequence[RowError]) -> None:
    if not errors:
        return
    positions: dict[int, int] = {}
    rows = []
    for error in errors:
        position = positions.get(error.row, 0)
        positions[error.row] = position + 1
        rows.append(
            {
                "job_id": job_id,
                "row_number": error.row,
                "position": position,
                "column_name": error.column,
                "value": None if error.value is None else error.value[:MAX_VALUE_CHARS],
                "code": error.code,
                "reason": error.reason,
            }
        )
    session.execute(insert(ImportRowError), rows)


def finish_job(
    session: Session,
    job_id: str,
    token: str,
    *,
    status: str,
    message: str | None = None,
    errors: Sequence[RowError] = (),
    now: datetime | None = None,
) -> None:
    """End an import: completed or failed (final, its upload deleted) or interrupted."""
    now = now or utcnow()
    values: dict[str, Any] = {"status": status, "message": message, "heartbeat_at": now}
    if status in FINAL:
        values.update(finished_at=now, claim_token=None, rows_total=ImportJob.rows_done)
    else:
        values.update(claim_token=None)
    _apply(session, _guarded(job_id, token).values(**values))
    _insert_errors(session, job_id, errors)
    if status in FINAL:
        delete_upload(session, job_id)
