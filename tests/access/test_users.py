"""Staff users: stored hashed, unique, managed from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.access.users import StaffUser, authenticate, create_user
from connector.cli import cli
from connector.db import Database
from connector.errors import Conflict, ValidationError
from connector.notify.outbox import queue_mail


def test_users_are_stored_hashed_and_unique(session: Session) -> None:
    user = create_user(session, email="Boss@Store.example", password="a very long secret")
    assert user.email == "boss@store.example"
    assert user.password_hash.startswith("scrypt:") and "secret" not in user.password_hash
    assert authenticate(session, "boss@store.example", "a very long secret") is not None
    assert authenticate(session, "boss@store.example", "wrong") is None
    with pytest.raises(Conflict):
        create_user(session, email="boss@store.example", password="another long one")
    with pytest.raises(ValidationError):
        create_user(session, email="short@store.example", password="short")


def test_cli_creates_and_lists_users(db: Database, tmp_path: Path) -> None:
    env = {"DATABASE_URL": db.url, "CONNECTOR_INSTANCE_PATH": str(tmp_path)}
    runner = CliRunner()
    created = runner.invoke(
        cli,
        ["users", "create", "--email", "ops@store.example", "--name", "Ops"],
        input="a long password\na long password\n",
        env=env,
    )
    assert created.exit_code == 0, created.output
    assert "created staff user ops@store.example" in created.output
    again = runner.invoke(
        cli,
        ["users", "create", "--email", "ops@store.example"],
        env={**env, "CONNECTOR_USER_PASSWORD": "x" * 12},
    )
    assert again.exit_code == 1 and "already exists" in again.output
    listed = runner.invoke(cli, ["users", "list"], env=env)
    assert "ops@store.example\tactive" in listed.output
    assert (
        runner.invoke(cli, ["users", "disable", "--email", "ops@store.example"], env=env).exit_code
        == 0
    )
    with db.transaction() as session:
        user = session.scalars(select(StaffUser)).one()
        assert user.disabled_at is not None and user.password_hash.startswith("scrypt:")
        queue_mail(session, to="c@shop.example", subject="Link", body="https://x/y")
    mails = runner.invoke(cli, ["mail", "list"], env=env)
    assert "to c@shop.example (not sent)" in mails.output and "https://x/y" in mails.output
