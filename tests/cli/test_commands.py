"""The ``connector`` command as a user runs it: a real process on the test database."""

from __future__ import annotations

import os
import re
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


# --- one database, found from any folder; one-line errors ----------------------------------


def fresh(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment with no database settings: the defaults decide."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CONNECTOR_") and k not in ("DATABASE_URL", "XDG_DATA_HOME")
    }
    env.update(HOME=str(home), **extra)
    return env


def run_in(folder: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        CONNECTOR + args,
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a failing command printed (no traceback), without click's prefix."""
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0].removeprefix("Error: ")


def test_every_command_finds_the_database_serve_uses_from_any_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = fresh(home, CONNECTOR_USER_PASSWORD="a long enough password")
    database = home / ".local" / "share" / "connector" / "connector.sqlite3"

    # Before serve or db upgrade ran, no command creates a database: each refuses, naming it.
    for args in (["keys", "list"], ["mail", "list"], ["check"], ["users", "list"]):
        message = one_line_error(run_in(tmp_path / "anywhere", args, env))
        assert message.startswith(f"no database at {database}: run "), message
        assert '"connector db upgrade"' in message
    assert not database.parent.exists()
    assert not (tmp_path / "anywhere" / "instance").exists()

    upgraded = run_in(tmp_path / "a", ["db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert database.is_file()
    created = run_in(tmp_path / "b", ["users", "create", "--email", "ops@store.example"], env)
    assert created.returncode == 0, created.stderr
    listed = run_in(tmp_path / "c" / "deeper", ["users", "list"], env)
    assert "ops@store.example" in listed.stdout
    for folder in ("a", "b", "c"):
        assert not (tmp_path / folder / "instance").exists()

    # XDG_DATA_HOME moves the default for every command alike.
    xdg = fresh(home, XDG_DATA_HOME=str(tmp_path / "xdg"))
    message = one_line_error(run_in(tmp_path / "a", ["keys", "list"], xdg))
    assert str(tmp_path / "xdg" / "connector" / "connector.sqlite3") in message


def test_the_old_instance_folder_is_named_rather_than_silently_replaced(tmp_path: Path) -> None:
    old = tmp_path / "project"
    (old / "instance").mkdir(parents=True)
    (old / "instance" / "connector.sqlite3").write_bytes(b"")
    message = one_line_error(run_in(old, ["keys", "list"], fresh(tmp_path / "home")))
    assert "is where earlier versions kept the database" in message
    assert f"CONNECTOR_INSTANCE_PATH={old / 'instance'}" in message


def test_a_missing_sqlite_folder_is_not_created_but_by_serve_or_db_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}"
    env = fresh(tmp_path / "home", DATABASE_URL=url)
    message = one_line_error(run_in(tmp_path, ["users", "list"], env))
    assert message.startswith(f"no database at {tmp_path / 'no' / 'such' / 'dir' / 'x.db'}")
    assert not (tmp_path / "no").exists()
    assert run_in(tmp_path, ["db", "upgrade"], env).returncode == 0
    assert (tmp_path / "no" / "such" / "dir" / "x.db").is_file()


def test_a_database_without_tables_is_refused_with_what_to_run(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.write_bytes(b"")
    env = fresh(tmp_path / "home", DATABASE_URL=f"sqlite:///{empty}")
    for args in (["keys", "list"], ["mail", "list"], ["check"]):
        message = one_line_error(run_in(tmp_path, args, env))
        assert message == (
            f"the database {empty} has no tables yet: run "
            '"connector serve" or "connector db upgrade" to create them'
        )


def test_a_database_behind_this_version_is_refused(tmp_path: Path) -> None:
    from connector.migrate import upgrade

    old = tmp_path / "old.sqlite3"
    upgrade(f"sqlite:///{old}", "0011")
    env = fresh(tmp_path / "home", DATABASE_URL=f"sqlite:///{old}")
    message = one_line_error(run_in(tmp_path, ["keys", "list"], env))
    assert "is at revision 0011, this version expects" in message
    assert message.endswith('run "connector db upgrade"')


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = "postgresql://someone:hunter2secret@127.0.0.1:1/nothing"
    for args in (["keys", "list"], ["db", "upgrade"], ["check"]):
        message = one_line_error(run_in(tmp_path, args, fresh(tmp_path / "home", DATABASE_URL=url)))
        assert message.startswith(
            "cannot reach the database postgresql+psycopg://someone:***@127.0.0.1:1/nothing: "
        ), message
        assert "Start it, or set DATABASE_URL" in message
        assert "hunter2secret" not in message


def test_bad_settings_are_one_line_naming_the_setting(tmp_path: Path) -> None:
    for env, expected in (
        (
            {"CONNECTOR_LOG_LEVEL": "verbose"},
            "configuration: CONNECTOR_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, "
            "not 'verbose'",
        ),
        ({"CONNECTOR_LOG_FORMAT": "xml"}, "configuration: CONNECTOR_LOG_FORMAT must be"),
        ({"CONNECTOR_WORKERS": "lots"}, "configuration: CONNECTOR_WORKERS must be a whole"),
    ):
        for args in (["keys", "list"], ["serve"]):
            message = one_line_error(run_in(tmp_path, args, fresh(tmp_path / "home", **env)))
            assert message.startswith(expected), message


def test_version_and_quiet_migrations(db: Database, tmp_path: Path) -> None:
    version = run(["--version"], environment(db, tmp_path))
    assert version.returncode == 0 and re.fullmatch(r"connector, version \S+\n", version.stdout)
    # Nothing to apply: no line from Alembic, nothing logged at all.
    again = run(["db", "upgrade"], environment(db, tmp_path, CONNECTOR_LOG_LEVEL="DEBUG"))
    assert again.returncode == 0 and again.stderr == "", again.stderr
    # A fresh database: one line per migration applied, in the log format.
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    fresh_run = run(["db", "upgrade"], environment(db, tmp_path, DATABASE_URL=url))
    lines = fresh_run.stderr.splitlines()
    assert lines and all('event="migration applied"' in line for line in lines), lines
    assert "alembic" not in fresh_run.stderr
    assert "up to date" in fresh_run.stdout
