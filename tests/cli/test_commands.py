"""The ``connector`` command as a user runs it: a real process on the test database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import update

from connector.access.keys import verify_key
from connector.credit.accounts import open_account
from connector.credit.models import Account
from connector.db import Database
from tests.factories import NOW
from tests.server import environment

CONNECTOR = [sys.executable, "-m", "connector.cli"]


def run(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        CONNECTOR + args, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_db_upgrade_is_idempotent(db: Database, tmp_path: Path) -> None:
    result = run(["db", "upgrade"], environment(db, tmp_path))
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_check_exits_1_on_drift(db: Database, tmp_path: Path) -> None:
    env = environment(db, tmp_path)
    with db.transaction() as session:
        account = open_account(session, email="c@example.com", credit_limit_cents=1_000, now=NOW)
    clean = run(["check"], env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no drift" in clean.stdout
    with db.transaction() as session:
        session.execute(update(Account).where(Account.id == account.id).values(balance_cents=-1))
    drifted = run(["check"], env)
    assert drifted.returncode == 1
    assert f"drift: {account.id}: balance_cents is -1, entries give 0" in drifted.stdout


def test_bad_configuration_gets_a_clear_message(db: Database, tmp_path: Path) -> None:
    env = environment(db, tmp_path, DATABASE_URL="mysql://u:p@localhost/db")
    result = run(["db", "upgrade"], env)
    assert result.returncode != 0
    assert "DATABASE_URL backend 'mysql' is not supported" in result.stderr
    env = environment(db, tmp_path, CONNECTOR_APP_KEY="only-the-key")
    result = run(["check"], env)
    assert result.returncode != 0
    assert "CONNECTOR_APP_KEY and CONNECTOR_APP_TOKEN must be set together" in result.stderr


def test_keys_are_issued_listed_and_revoked(db: Database, tmp_path: Path) -> None:
    env = environment(db, tmp_path)
    created = run(["keys", "create", "--role", "invoices", "--label", "erp"], env)
    assert created.returncode == 0, created.stderr
    lines = dict(line.split(":", 1) for line in created.stdout.strip().splitlines())
    app_key, app_token = lines["X-VTEX-API-AppKey"].strip(), lines["X-VTEX-API-AppToken"].strip()
    with db.transaction() as session:
        assert verify_key(session, app_key, app_token) == "invoices"
        assert verify_key(session, app_key, app_token + "x") is None
    listed = run(["keys", "list"], env)
    assert app_key in listed.stdout and app_token not in listed.stdout
    assert run(["keys", "revoke", app_key], env).returncode == 0
    with db.transaction() as session:
        assert verify_key(session, app_key, app_token) is None
    unknown = run(["keys", "revoke", "ck_nope"], env)
    assert unknown.returncode == 1 and "no key" in unknown.stderr


def test_notifications_preview_prints_a_days_mails_and_sends_nothing(
    db: Database, tmp_path: Path
) -> None:
    from connector.credit.reservations import reserve
    from connector.credit.settings import Reminder
    from connector.credit.settlements import settle_reservation
    from connector.notify.outbox import OutboxMail
    from tests import factories

    with db.transaction() as session:
        factories.settings(session, reminders_before=(Reminder(3, "09:00"),))
        account = open_account(session, email="c@example.com", credit_limit_cents=10_000, now=NOW)
        held = reserve(session, account.id, 5_000, now=NOW)
        settle_reservation(session, held.id, now=NOW)  # due 2026-04-01
    env = environment(db, tmp_path)
    result = run(["notifications", "preview", "--date", "2026-03-29"], env)
    assert result.returncode == 0, result.stderr
    assert "2026-03-29 12:00Z  before:3" in result.stdout and "c@example.com (pt)" in result.stdout
    assert "vence em 1 de abril de 2026" in result.stdout
    assert result.stdout.rstrip().endswith("1 mail(s)")
    assert run(["notifications", "preview", "--date", "2026-03-30"], env).stdout.strip() == (
        "0 mail(s)"
    )
    bad = run(["notifications", "preview", "--date", "29/03/2026"], env)
    assert bad.returncode == 2 and "--date" in bad.stderr
    with db.transaction() as session:
        assert session.query(OutboxMail).count() == 0  # a preview sends nothing
