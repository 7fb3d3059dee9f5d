"""Fixtures: a database built by the migrations, emptied between tests.

The suite runs on SQLite by default. Set ``TEST_DATABASE_URL`` (or ``DATABASE_URL``) to
a PostgreSQL database to run the same tests there; that database is wiped first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from connector import create_app
from connector.access.keys import create_key
from connector.config import normalize_database_url
from connector.context import of
from connector.credit.settings import forget_cached_settings
from connector.db import Database, make_engine
from connector.migrate import upgrade
from connector.models import Base

ADMIN_KEY = "test-admin-key"
ADMIN_TOKEN = "test-admin-token-0123456789"

# A fixed Monday morning, so business-day arithmetic in tests is predictable.
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _configured_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") or None


def _wipe(url: str) -> None:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
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
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 (our own names)


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    """The test database, emptied after each test."""
    yield database
    _empty_tables(database)


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    """A session in a transaction that commits when the test ends."""
    with db.transaction() as session:
        yield session


@pytest.fixture
def app(db: Database, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "database_url": db.url,
            "instance_path": tmp_path / "instance",
            "secret_key": "test-secret-key-" + "x" * 32,
            "scheduler_enabled": False,
            "app_key": ADMIN_KEY,
            "app_token": ADMIN_TOKEN,
        }
    )
    app.config["TESTING"] = True
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
