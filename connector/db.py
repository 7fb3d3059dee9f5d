"""Declarative base, engines and the one unit of work.

The edge (a route, a page, a job, a command) owns the transaction: it runs its work with
``Database.run(work)`` (or opens ``Database.transaction()`` around a few steps) and hands
the session to services, which only add and flush. ``read_only`` reads one snapshot
without taking a write lock; ``retries`` runs the work again after a unique-key collision
(a repeat racing its original), so the work can replay what the original stored.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from connector import jsonio

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC datetime is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}


_READ_ONLY = "connector_read_only"


def _prepare_sqlite(engine: Engine) -> None:
    """Make every SQLite transaction take the write lock at BEGIN.

    pysqlite defers BEGIN until the first write, so two transactions could both read the
    same available credit before either writes. BEGIN IMMEDIATE serializes writers at the
    start, which is SQLite's equivalent of locking the account row.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" hook emit BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A snapshot (see Database.snapshot) only reads: a deferred BEGIN reads the WAL
        # snapshot without taking the write lock, so writers carry on beside it.
        if connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(database_url: str, *, prepared_statements: bool = True, **kwargs: Any) -> Engine:
    """Create an engine configured for the backend named by the URL.

    JSON columns use the Decimal-aware encoder, so amounts stored in JSON stay exact.
    Without ``prepared_statements`` (behind PgBouncer in transaction mode), psycopg never
    prepares a statement on the server: the next transaction may reach another connection.
    """
    url = make_url(database_url)
    # An error's text would otherwise carry the statement's values (a token's hash, a
    # sign-in link in a mail) into the logs.
    kwargs.setdefault("hide_parameters", True)
    kwargs.setdefault("json_serializer", jsonio.dumps)
    kwargs.setdefault("json_deserializer", jsonio.loads)
    if url.get_backend_name() == "sqlite":
        if url.database:
            os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        _prepare_sqlite(engine)
        return engine
    if not prepared_statements:
        kwargs["connect_args"] = {**kwargs.get("connect_args", {}), "prepare_threshold": None}
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


class Database:
    """An engine and its session factory."""

    def __init__(
        self, database_url: str, *, prepared_statements: bool = True, **engine_kwargs: Any
    ) -> None:
        self.url = database_url
        self.prepared_statements = prepared_statements
        self.engine = make_engine(
            database_url, prepared_statements=prepared_statements, **engine_kwargs
        )
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self._on_dispose: list[Callable[[], None]] = []

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error.

        ``read_only`` reads one consistent snapshot instead, rolled back at the end: it
        never takes SQLite's write lock (a deferred BEGIN on the WAL) and on PostgreSQL
        runs REPEATABLE READ, READ ONLY, so a page that polls, or a stream of a million
        rows, sees one moment and blocks no writer.
        """
        if read_only:
            with self._snapshot() as session:
                yield session
            return
        with self.sessionmaker.begin() as session:
            yield session

    def run(self, work: Callable[[Session], T], *, read_only: bool = False, retries: int = 0) -> T:
        """``work(session)`` in one transaction; its result once committed.

        With ``retries``, a unique-key collision rolls everything back and runs the work
        again, up to that many more times; the work then finds what the other side
        stored (a repeated payment replays its answer).
        """
        for attempt in range(retries + 1):
            try:
                with self.transaction(read_only=read_only) as session:
                    return work(session)
            except IntegrityError:
                if attempt == retries:
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def _snapshot(self) -> Iterator[Session]:
        with self.engine.connect() as connection:
            if self.is_postgresql:
                connection.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            else:
                connection.execution_options(**{_READ_ONLY: True})
            with Session(bind=connection, expire_on_commit=False) as session:
                try:
                    yield session
                finally:
                    session.rollback()

    def on_dispose(self, close: Callable[[], None]) -> None:
        """Close something holding connections of its own when the engine is disposed."""
        self._on_dispose.append(close)

    def dispose(self) -> None:
        for close in self._on_dispose:
            close()
        self.engine.dispose()
