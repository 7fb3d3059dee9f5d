"""The import history: claims that only one worker wins, resuming, the scheduler's job."""

from __future__ import annotations

import io
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from connector.bulk.claims import LostClaim, claim_job, record_chunk
from connector.bulk.csvio import FileFacts
from connector.bulk.files import open_upload, store_upload
from connector.bulk.history import (
    ChunkCounts,
    ImportFilePart,
    ImportJob,
    create_job,
    effective_status,
    get_job,
    job_to_dict,
)
from connector.bulk.runner import run_import, run_queued_imports, start_file_import
from connector.clock import utcnow
from connector.config import load_settings
from connector.credit.models import Account
from connector.db import Database
from connector.jobs.scheduler import build_scheduler
from tests.bulk.conftest import RunImport, WriteFile, counts

FACTS = FileFacts("utf-8", 10, "0" * 64, 3)


def new_job(db: Database, **fields: object) -> str:
    with db.transaction() as session:
        job = create_job(
            session,
            kind="accounts",
            mode="create",
            dry_run=False,
            source="api",
            requested_by="tester",
            file_name="/tmp/../a.csv",
            facts=FACTS,
            chunk_size=2,
        )
        for name, value in fields.items():
            setattr(job, name, value)
        return job.id


def test_only_one_claim_wins(db: Database) -> None:
    job_id = new_job(db)
    with db.transaction() as session:
        first_read = get_job(session, job_id)
    with db.transaction() as session:
        second_read = get_job(session, job_id)
    with db.transaction() as session:
        token = claim_job(session, first_read)
    with db.transaction() as session:
        assert claim_job(session, second_read) is None  # it read the job before the claim
        assert claim_job(session, get_job(session, job_id)) is None  # its worker is alive
    assert token is not None
    with db.transaction() as session:
        job = get_job(session, job_id)
        assert (job.status, job.claim_token, job.file_name) == ("running", token, "a.csv")


def test_a_worker_that_lost_its_claim_cannot_record_a_chunk(db: Database) -> None:
    job_id = new_job(db)
    with db.transaction() as session:
        token = claim_job(session, get_job(session, job_id))
    assert token is not None
    with pytest.raises(LostClaim), db.transaction() as session:
        record_chunk(session, job_id, "someone-else", index=0, counts=ChunkCounts(created=1))
    with db.transaction() as session:
        record_chunk(session, job_id, token, index=0, counts=ChunkCounts(created=2))
    with pytest.raises(LostClaim), db.transaction() as session:
        # the same chunk twice (a replay) is refused too
        record_chunk(session, job_id, token, index=0, counts=ChunkCounts(created=2))
    with db.transaction() as session:
        job = get_job(session, job_id)
        assert (job.chunks_done, job.rows_done, job.created_count) == (1, 2, 2)


def test_a_running_import_whose_worker_is_gone_is_interrupted(db: Database) -> None:
    now = utcnow()
    alive = new_job(db, status="running", worker="elsewhere:1", heartbeat_at=now)
    stale = new_job(
        db, status="running", worker="elsewhere:1", heartbeat_at=now - timedelta(hours=1)
    )
    dead = new_job(db, status="running", worker=f"{_host()}:{_dead_pid()}", heartbeat_at=now)
    with db.transaction() as session:
        assert effective_status(get_job(session, alive), now) == "running"
        assert effective_status(get_job(session, stale), now) == "interrupted"
        assert effective_status(get_job(session, dead), now) == "interrupted"
        assert claim_job(session, get_job(session, alive)) is None
        assert claim_job(session, get_job(session, stale)) is not None
        body = job_to_dict(get_job(session, dead), now)
        assert body["status"] == "interrupted" and body["progress"]["percent"] == 0


def _host() -> str:
    import socket

    return socket.gethostname()


def _dead_pid() -> int:
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_resumed_import_skips_the_chunks_already_recorded(
    db: Database, write_file: WriteFile
) -> None:
    path = write_file("Email,Credit limit\n" + "".join(f"u{n}@example.com,{n}\n" for n in range(6)))
    started = start_file_import(
        db, path, kind="accounts", mode="create", dry_run=False, chunk_size=2
    )
    # Pretend a first run committed chunk 0 and died: its rows are recorded, not written.
    with db.transaction() as session:
        record_chunk(session, started.job.id, started.token, index=0, counts=ChunkCounts(created=2))
        session.execute(update(ImportJob).values(worker=f"{_host()}:{_dead_pid()}"))
    again = start_file_import(db, path, kind="accounts", mode="create", dry_run=False)
    assert again.resumed and again.job.id == started.job.id
    with path.open("rb") as stream:
        job = run_import(db, again.job.id, again.token, stream)
    assert (job.status, counts(job), job.chunks_done) == ("completed", (6, 0, 0, 0), 3)
    with db.transaction() as session:
        emails = set(session.scalars(select(Account.email)))
    assert emails == {f"u{n}@example.com" for n in range(2, 6)}  # chunk 0 was skipped


def test_another_file_or_mode_starts_a_new_import(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    path = write_file("Email,Credit limit\na@example.com,1\n")
    started = start_file_import(db, path, kind="accounts", mode="create", dry_run=False)
    with db.transaction() as session:
        session.execute(update(ImportJob).values(worker=f"{_host()}:{_dead_pid()}"))
    other_mode = start_file_import(db, path, kind="accounts", mode="update", dry_run=False)
    dry = start_file_import(db, path, kind="accounts", mode="create", dry_run=True)
    assert not other_mode.resumed and not dry.resumed
    assert start_file_import(db, path, kind="accounts", mode="create", dry_run=False).resumed
    assert started.job.id not in (other_mode.job.id, dry.job.id)


def test_an_upload_is_kept_in_parts_and_read_back(db: Database) -> None:
    data = b"Email,Credit limit\r\n" + b"".join(
        f"user{n}@example.com,{n}\r\n".encode() for n in range(60_000)
    )
    job_id = new_job(db)
    with db.transaction() as session:
        facts = store_upload(session, job_id, io.BytesIO(data))
        parts = session.scalar(select(func.count()).select_from(ImportFilePart))
    assert (facts.size, facts.lines, parts) == (len(data), 60_001, 2)
    assert open_upload(db, job_id).read() == data


def test_queued_uploads_run_once_even_with_two_schedulers(db: Database) -> None:
    ids = []
    for n in range(3):
        job_id = new_job(db)
        with db.transaction() as session:
            facts = store_upload(
                session,
                job_id,
                io.BytesIO(f"Email,Credit limit\r\nu{n}@example.com,1\r\n".encode()),
            )
            job = get_job(session, job_id)
            job.encoding, job.rows_total = facts.encoding, 1
        ids.append(job_id)
    cli_job = new_job(db, source="cli")  # a file on someone's disk: not the scheduler's
    ran: list[int] = []
    threads = [
        threading.Thread(target=lambda: ran.append(run_queued_imports(db))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(ran) == 3
    with db.transaction() as session:
        assert {get_job(session, i).status for i in ids} == {"completed"}
        assert get_job(session, cli_job).status == "queued"
        assert session.scalar(select(func.count()).select_from(Account)) == 3
        assert session.scalar(select(func.count()).select_from(ImportFilePart)) == 0


def test_a_failing_upload_is_left_interrupted_and_retried_later(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = new_job(db)
    with db.transaction() as session:
        store_upload(session, job_id, io.BytesIO(b"Email,Credit limit\r\na@example.com,1\r\n"))

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr("connector.bulk.accounts_import.AccountsImport.apply", broken)
    with pytest.raises(RuntimeError):
        run_queued_imports(db)
    with db.transaction() as session:
        job = get_job(session, job_id)
        assert (job.status, job.message) == ("interrupted", "stopped: database went away")
    monkeypatch.undo()
    assert run_queued_imports(db) == 0  # not at once: it waits before retrying
    assert run_queued_imports(db, now=utcnow() + timedelta(minutes=2)) == 1
    with db.transaction() as session:
        assert get_job(session, job_id).status == "completed"


def test_the_scheduler_runs_the_import_job(db: Database, tmp_path: Path) -> None:
    settings = load_settings({"DATABASE_URL": db.url, "CONNECTOR_INSTANCE_PATH": str(tmp_path)})
    scheduler = build_scheduler(db, settings)
    job = scheduler.get_job("bulk_imports")
    assert job is not None and job.trigger.interval == timedelta(seconds=5)


def test_file_level_errors_fail_the_import_with_a_report(
    db: Database, write_file: WriteFile, run_file: RunImport, tmp_path: Path
) -> None:
    job = run_file(write_file("Email\nx@example.com\n"))
    assert (job.status, job.finished_at is not None) == ("failed", True)
    assert job.message is not None and "lacks Credit limit" in job.message
    huge = tmp_path / "huge.csv"
    huge.write_bytes(b'Email,Credit limit\r\na@example.com,1\r\n"' + b"x" * (1 << 21) + b"\r\n")
    late = run_file(huge)
    assert late.status == "failed" and counts(late) == (1, 0, 0, 0)
    assert late.message is not None and "row 3 cannot be read" in late.message
