"""Every refusal of the ``connector`` command names the rule it applies."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from connector.access.users import MIN_PASSWORD_LENGTH, create_user
from connector.cli import cli
from connector.cli.common import refusal
from connector.db import Database
from connector.errors import Reason, ValidationError


def _env(db: Database, tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": db.url, "CONNECTOR_INSTANCE_PATH": str(tmp_path)}


def test_a_short_password_is_refused_naming_the_minimum(db: Database, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {**_env(db, tmp_path), "CONNECTOR_USER_PASSWORD": "short"}
    created = runner.invoke(cli, ["users", "create", "--email", "a@store.example"], env=env)
    assert created.exit_code == 1
    assert f"password too short: at least {MIN_PASSWORD_LENGTH} characters" in created.output
    with db.transaction() as session:
        create_user(session, email="b@store.example", password="a very long secret")
    changed = runner.invoke(cli, ["users", "set-password", "--email", "b@store.example"], env=env)
    assert changed.exit_code == 1
    assert f"at least {MIN_PASSWORD_LENGTH} characters" in changed.output


def test_the_last_admin_is_kept_naming_why(db: Database, tmp_path: Path) -> None:
    with db.transaction() as session:
        create_user(session, email="boss@store.example", password="a very long secret")
    demoted = CliRunner().invoke(
        cli,
        ["users", "set-role", "--email", "boss@store.example", "--role", "viewer"],
        env=_env(db, tmp_path),
    )
    assert demoted.exit_code == 1
    assert "is the last active admin: make another user admin first" in demoted.output


def test_a_refusal_adds_the_reasons_its_message_does_not_say() -> None:
    error = ValidationError(
        "bad lifetime",
        fields={"ttl": Reason("from {low} to {high}", low="1 minute", high="30 days")},
    )
    assert refusal(error) == "bad lifetime (ttl: from 1 minute to 30 days)"
    said = ValidationError("too short: at least 3", fields={"x": "at least 3"})
    assert refusal(said) == "too short: at least 3"


def test_users_enable_and_remove_a_second_factor(db: Database, tmp_path: Path) -> None:
    from connector.access.users import StaffUser

    with db.transaction() as session:
        create_user(session, email="boss@store.example", password="a very long secret")
        user = create_user(session, email="b@store.example", password="a very long secret")
        user.totp_secret = "encrypted"
    runner, env = CliRunner(), _env(db, tmp_path)
    assert "second factor" in runner.invoke(cli, ["users", "list"], env=env).output
    removed = runner.invoke(
        cli, ["users", "remove-second-factor", "--email", "b@store.example"], env=env
    )
    assert removed.exit_code == 0, removed.output
    assert (
        runner.invoke(cli, ["users", "disable", "--email", "b@store.example"], env=env).exit_code
        == 0
    )
    assert (
        runner.invoke(cli, ["users", "enable", "--email", "b@store.example"], env=env).exit_code
        == 0
    )
    with db.transaction() as session:
        row = session.get(StaffUser, user.id)
        assert row is not None and row.totp_secret is None and row.disabled_at is None
