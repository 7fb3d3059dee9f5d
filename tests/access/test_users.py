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
    last = runner.invoke(cli, ["users", "disable", "--email", "ops@store.example"], env=env)
    assert last.exit_code == 1
    assert "ops@store.example is the last active admin: make another user admin first" in (
        last.output
    )
    with db.transaction() as session:
        create_user(session, email="boss@store.example", password="a very long secret")
    assert (
        runner.invoke(cli, ["users", "disable", "--email", "ops@store.example"], env=env).exit_code
        == 0
    )
    with db.transaction() as session:
        user = session.scalars(
            select(StaffUser).where(StaffUser.email == "ops@store.example")
        ).one()
        assert user.disabled_at is not None and user.password_hash.startswith("scrypt:")
        queue_mail(session, to="c@shop.example", subject="Link", body="https://x/y")
    mails = runner.invoke(cli, ["mail", "list"], env=env)
    assert "to c@shop.example (not sent)" in mails.output and "https://x/y" in mails.output


def test_a_user_has_a_role_that_grants_what_it_names(session: Session) -> None:
    from connector.access.principals import MANAGE_KEYS, READ, WRITE_ADMIN
    from connector.access.users import set_role

    boss = create_user(session, email="boss@store.example", password="a very long secret")
    looker = create_user(
        session, email="look@store.example", password="a very long secret", role="viewer"
    )
    assert boss.role == "admin" and boss.may(WRITE_ADMIN) and boss.may(MANAGE_KEYS)
    assert looker.may(READ) and not looker.may(WRITE_ADMIN) and not looker.may(MANAGE_KEYS)
    with pytest.raises(ValidationError):
        create_user(session, email="x@store.example", password="a very long secret", role="root")
    assert set_role(session, "look@store.example", "admin").may(MANAGE_KEYS)
    with pytest.raises(ValidationError):
        set_role(session, "look@store.example", "gateway")


def test_cli_creates_a_viewer_and_changes_a_role(db: Database, tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": db.url,
        "CONNECTOR_INSTANCE_PATH": str(tmp_path),
        "CONNECTOR_USER_PASSWORD": "a long password",
    }
    runner = CliRunner()
    created = runner.invoke(
        cli, ["users", "create", "--email", "look@store.example", "--role", "viewer"], env=env
    )
    assert created.exit_code == 0, created.output
    assert "created staff user look@store.example (viewer)" in created.output
    assert "\tviewer" in runner.invoke(cli, ["users", "list"], env=env).output
    changed = runner.invoke(
        cli, ["users", "set-role", "--email", "look@store.example", "--role", "admin"], env=env
    )
    assert changed.exit_code == 0 and "is now admin" in changed.output
    with db.transaction() as session:
        assert session.scalars(select(StaffUser)).one().role == "admin"
    unknown = runner.invoke(
        cli, ["users", "set-role", "--email", "nobody@store.example", "--role", "admin"], env=env
    )
    assert unknown.exit_code == 1
