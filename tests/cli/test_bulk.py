"""The bulk commands as a user runs them, and an import killed halfway then run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connector.bulk.history import ImportJob, effective_status
from connector.clock import utcnow
from connector.credit.accounts import open_account
from connector.credit.invoices import update_invoice
from connector.credit.models import Account
from connector.credit.reservations import reserve
from connector.credit.settlements import settle_reservation
from connector.db import Database
from connector.migrate import upgrade
from tests.bulk.conftest import ledger_state
from tests.factories import NOW, valid_cpf

CONNECTOR = [sys.executable, "-m", "connector.cli"]
HEADER = "Email,Document,Document Type,Credit limit,Tolerance rate\r\n"


def environment(url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update(
        DATABASE_URL=url,
        CONNECTOR_INSTANCE_PATH=str(tmp_path / "instance"),
        CONNECTOR_LOG_LEVEL="WARNING",
    )
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        CONNECTOR + args, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def accounts_file(tmp_path: Path, rows: int, name: str = "accounts.csv") -> Path:
    path = tmp_path / name
    lines = [HEADER]
    lines += [
        f"u{n}@example.com,{valid_cpf(n + 1)},CPF,{n}.{n % 100:02d},0.0{n % 10}\r\n"
        for n in range(rows)
    ]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_import_summary_report_history_and_exit_status(db: Database, tmp_path: Path) -> None:
    env = environment(db.url, tmp_path)
    path = accounts_file(tmp_path, 3)
    first = run(["import", "accounts", str(path), "--mode", "create"], env)
    assert first.returncode == 0, first.stderr
    [summary] = first.stdout.strip().splitlines()
    assert summary.startswith("import ") and "completed, 3 rows: 3 created, 0 updated" in summary
    again = run(["import", "accounts", str(path), "--mode", "create"], env)
    assert "0 created, 0 updated, 3 unchanged, 0 failed" in again.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "x,00000000191,CPF,1,0\r\n", encoding="utf-8")
    dry = run(["import", "accounts", str(bad), "--mode", "update", "--dry-run"], env)
    assert dry.returncode == 1
    assert dry.stdout.startswith("dry run ") and "1 would fail" in dry.stdout
    job_id = dry.stdout.split()[2].rstrip(":")
    report = run(["import", "report", job_id], env)
    assert report.stdout.splitlines() == [
        "Row,Column,Value,Code,Reason",
        "2,Email,x,invalid_email,not an e-mail address",
    ]
    history = run(["import", "history"], env).stdout.splitlines()
    assert len(history) == 3 and "accounts update (dry run)" in history[0]
    missing = run(["import", "report", "nope"], env)
    assert missing.returncode == 1 and "not found" in missing.stderr

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("Mail\r\nx\r\n", encoding="utf-8")
    failed = run(["import", "accounts", str(wrong), "--mode", "create"], env)
    assert failed.returncode == 1 and "failed: the header (row 1) lacks Email" in failed.stdout


def test_template_and_export_commands(db: Database, tmp_path: Path) -> None:
    env = environment(db.url, tmp_path)
    template = run(["template", "accounts"], env)
    # (text mode reads the CRLF that spreadsheets expect as a plain line break)
    assert template.stdout == (
        "Email,Document,Document Type,Credit limit (R$),Tolerance (fraction or %),Company name\n"
        "example@example.com,00000000000,Other,1500.00,10%,Example Ltd.\n"
    )
    portuguese = run(["template", "accounts", "--lang", "pt", "-o", str(tmp_path / "t.csv")], env)
    assert portuguese.returncode == 0
    assert (tmp_path / "t.csv").read_bytes().startswith(b"\xef\xbb\xbfEmail;Documento;")
    with db.transaction() as session:
        account = open_account(session, email="a@example.com", credit_limit_cents=10_000, now=NOW)
        reservation = reserve(session, account.id, 3_000, installments=3, now=NOW)
        invoices = settle_reservation(session, reservation.id, now=NOW).invoices
        update_invoice(session, invoices[0].id, observation="=1+1", now=NOW)
    out = tmp_path / "invoices.csv"
    exported = run(["export", "invoices", "-o", str(out), "--account", account.id], env)
    assert exported.returncode == 0, exported.stderr
    assert f"exported 3 invoices to {out}" in exported.stderr
    text = out.read_bytes().decode("utf-8-sig")
    assert "'=1+1" in text and text.count("\r\n") == 4
    none = run(["export", "invoices", "--status", "Paid"], env)
    assert none.stdout.count("\n") == 1
    bad = run(["export", "invoices", "--status", "Late"], env)
    assert bad.returncode == 2 and "status: Opened, Paid or Cancelled" in bad.stderr
    accounts = run(["export", "accounts", "--delimiter", "semicolon"], env)
    assert accounts.stdout.splitlines()[1].startswith("a@example.com;;;100,00;0%;")


def kill_midway(args: list[str], env: dict[str, str], db: Database, after_rows: int) -> str:
    """Start an import, SIGKILL it once ``after_rows`` rows are committed; the import's id."""
    process = subprocess.Popen(
        CONNECTOR + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            with db.transaction() as session:
                job = session.scalar(
                    select(ImportJob).order_by(ImportJob.created_at.desc()).limit(1)
                )
                if job is not None and job.rows_done >= after_rows:
                    break
            assert process.poll() is None, "the import ended before it could be killed"
            time.sleep(0.02)
        else:
            pytest.fail("the import never got going")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    return job.id


@pytest.mark.slow
@pytest.mark.parametrize("resume", [True, False], ids=["resumed", "fresh-run"])
def test_an_import_killed_halfway_runs_again_with_nothing_lost_or_doubled(
    db: Database, tmp_path: Path, resume: bool
) -> None:
    env = environment(db.url, tmp_path)
    path = accounts_file(tmp_path, 400)
    slow = ["import", "accounts", str(path), "--mode", "create", "--chunk-size", "20"]
    killed_id = kill_midway([*slow, "--pause-after-chunk", "0.05"], env, db, after_rows=100)
    with db.transaction() as session:
        killed = session.get(ImportJob, killed_id)
        assert killed is not None
        assert killed.status == "running"  # SIGKILL left no chance to say otherwise
        assert effective_status(killed, utcnow()) == "interrupted"  # its process is gone
        committed = session.scalar(select(func.count()).select_from(Account))
        assert committed == killed.rows_done == killed.created_count  # chunks are atomic
        assert 100 <= committed < 400

    again = run(slow if resume else [*slow, "--no-resume"], env)
    assert again.returncode == 0, again.stdout + again.stderr
    with db.transaction() as session:
        jobs = session.scalars(select(ImportJob).order_by(ImportJob.created_at)).all()
        if resume:
            assert f"resuming import {killed_id} after row {committed}" in again.stderr
            [job] = jobs
            assert (job.status, job.rows_done, job.created_count) == ("completed", 400, 400)
        else:
            assert jobs[0].id == killed_id and len(jobs) == 2
            assert (jobs[1].created_count, jobs[1].unchanged_count) == (400 - committed, committed)
        imported = ledger_state(session)

    # A clean run of the same file into an empty database gives the very same ledger.
    clean_url = f"sqlite:///{tmp_path / 'clean.sqlite3'}"
    upgrade(clean_url)
    clean_env = environment(clean_url, tmp_path)
    assert run(["import", "accounts", str(path), "--mode", "create"], clean_env).returncode == 0
    clean = Database(clean_url)
    with clean.transaction() as session:
        assert ledger_state(session) == imported
    clean.dispose()
    checked = run(["check"], env)
    assert checked.returncode == 0 and "no drift" in checked.stdout
