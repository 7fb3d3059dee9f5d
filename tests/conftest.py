"""Fixtures: a database built by the migrations, emptied between tests, and apps on it.

The suite runs on SQLite by default. Set ``TEST_DATABASE_URL`` (or ``DATABASE_URL``) to
a PostgreSQL database to run the same tests there; that database is wiped first. Tests
that need PostgreSQL whatever the suite runs on (the express authorization) use the
``pg`` fixture: the suite's own database when it is PostgreSQL, else
``TEST_POSTGRES_URL`` (default: CI's ``connector_ci`` database on the local cluster),
also wiped first; they are skipped when no PostgreSQL answers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from connector import create_app
from connector.access.keys import create_key
from connector.clock import FixedClock, utcnow
from connector.config import normalize_database_url
from connector.context import of
from connector.credit.models import Account
from connector.credit.settings import forget_cached_settings
from connector.db import Database, make_engine
from connector.migrate import upgrade
from connector.models import Base
from tests import factories
from tests.factories import ADMIN_KEY, ADMIN_TOKEN, NOW, Seeded

__all__ = ["ADMIN_KEY", "ADMIN_TOKEN", "NOW"]

POSTGRES_URL = "postgresql+psycopg://connector_ci:connector_ci@127.0.0.1:5432/connector_ci"


def _configured_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") or None


def _wipe(url: str) -> None:
    engine = make_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    configured = _configured_url()
    if configured:
        url = normalize_database_url(configured)
        _wipe(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def is_postgresql(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture(scope="session")
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _empty_tables(database: Database) -> None:
    forget_cached_settings()
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as connection:
        if database.is_postgresql:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            with append_only_lifted(connection):
                for table in tables:
                    connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 (our names)


@contextmanager
def append_only_lifted(connection: Connection) -> Iterator[None]:
    """Let a test's wipe DELETE the audit trail, whose triggers refuse it, then restore them."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
        yield
        connection.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))
        return
    triggers = connection.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    ).all()
    for name, _ in triggers:
        connection.execute(text(f'DROP TRIGGER "{name}"'))
    yield
    for _, sql in triggers:
        connection.execute(text(sql))


@pytest.fixture(autouse=True)
def _numbered_from_one() -> None:
    factories.restart_numbering()


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    """The test database, emptied after each test."""
    yield database
    _empty_tables(database)


@pytest.fixture(scope="session")
def postgres(database: Database) -> Iterator[Database]:
    """A PostgreSQL database, whatever the suite runs on (see the module's docstring)."""
    if database.is_postgresql:
        yield database
        return
    url = normalize_database_url(os.environ.get("TEST_POSTGRES_URL") or POSTGRES_URL)
    try:
        _wipe(url)
    except OperationalError as exc:
        pytest.skip(f"no PostgreSQL answers at TEST_POSTGRES_URL ({exc.orig})")
    upgrade(url)
    other = Database(url)
    yield other
    other.dispose()


@pytest.fixture
def pg(postgres: Database) -> Iterator[Database]:
    """The PostgreSQL database, emptied after each test."""
    yield postgres
    _empty_tables(postgres)


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    """A session in a transaction that commits when the test ends."""
    with db.transaction() as session:
        yield session


@pytest.fixture
def clock() -> FixedClock:
    """The time the app's edges pass to the services: pinned at the test's start, moved by
    the test with ``clock.advance``."""
    return FixedClock(utcnow())


def make_app(database: Database, instance: Path, clock: FixedClock, **overrides: Any) -> Flask:
    """An app on ``database`` with the admin pair configured and no scheduler."""
    settings: dict[str, Any] = {
        "database_url": database.url,
        "instance_path": instance,
        "secret_key": "test-secret-key-" + "x" * 32,
        "scheduler_enabled": False,
        "app_key": ADMIN_KEY,
        "app_token": ADMIN_TOKEN,
        **overrides,
    }
    app = create_app(settings, clock=clock)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(db: Database, tmp_path: Path, clock: FixedClock) -> Iterator[Flask]:
    app = make_app(db, tmp_path / "instance", clock)
    yield app
    of(app).db.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def admin_headers() -> dict[str, str]:
    """Credentials of the configured pair, which acts as an admin key."""
    return {"X-VTEX-API-AppKey": ADMIN_KEY, "X-VTEX-API-AppToken": ADMIN_TOKEN}


@pytest.fixture
def headers_for(db: Database) -> Callable[[str], dict[str, str]]:
    """Issue a key with a role and return the headers that carry it."""

    def issue(role: str) -> dict[str, str]:
        with db.transaction() as session:
            issued = create_key(session, role=role)
        return {"X-VTEX-API-AppKey": issued.app_key, "X-VTEX-API-AppToken": issued.app_token}

    return issue


@pytest.fixture
def store(db: Database) -> Callable[..., None]:
    """Change the store's settings, by field name, in a transaction of their own."""

    def change(**changes: Any) -> None:
        with db.transaction() as session:
            factories.settings(session, **changes)

    return change


@pytest.fixture
def new_account(session: Session) -> Callable[..., Account]:
    """Open an account in the test's session (``factories.account``)."""
    return lambda **overrides: factories.account(session, **overrides)


@pytest.fixture
def seed(db: Database) -> Callable[..., Seeded]:
    """An open account with one settled purchase (``factories.settled_purchase``)."""
    return lambda **overrides: factories.settled_purchase(db, **overrides)


Post = Callable[..., TestResponse]


@pytest.fixture
def post(client: FlaskClient, admin_headers: dict[str, str]) -> Post:
    """POST JSON to the connector with the store's credentials."""

    def send(path: str, body: Any, headers: dict[str, str] | None = None) -> TestResponse:
        return client.post(path, json=body, headers={**admin_headers, **(headers or {})})

    return send


@pytest.fixture
def buyer_account(db: Database) -> str:
    """An account for buyer@example.com with a 1,000.00 limit."""
    with db.transaction() as session:
        return factories.account(
            session,
            email="buyer@example.com",
            credit_limit_cents=100_000,
            document="12345678909",
        ).id
