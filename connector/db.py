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
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import IntegrityError, OperationalError
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

# How long a writer waits for its turn: SQLite's own busy timeout, in the queue or at BEGIN.
BUSY_TIMEOUT_SECONDS = 30


class WriterQueue:
    """This process's writers to one SQLite file, let in one at a time, first come first served.

    Why: SQLite has one writer at a time, and a connection that finds the write lock taken
    waits in its busy handler, which polls with growing sleeps (1, 2, 5, 10 ... 100 ms).
    The lock is free again within a millisecond or two, but the waiter sleeps on, while a
    newcomer takes it: under load the tail was hundreds of milliseconds (p99 179 ms at 2
    clients, 240-600 ms at 16). Here a writer waits on a lock of its own instead, and the
    one leaving hands its turn to the longest waiting, so the wait is exactly the queue
    ahead of it. Other processes (the scheduler, a command) are not in this queue: SQLite's
    lock and busy timeout still order them against this one, as before.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Lock] = deque()

    def enter(self, timeout: float) -> bool:
        """Wait for this writer's turn; False if ``timeout`` seconds pass first."""
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            gate = threading.Lock()
            gate.acquire()
            self._waiting.append(gate)
        if gate.acquire(timeout=timeout):
            return True
        with self._mutex:
            if gate in self._waiting:
                self._waiting.remove(gate)
                return False
        return True  # the turn came as the wait ran out: it is ours

    def leave(self) -> None:
        """Hand the turn to the longest waiting writer (it stays held), or free it."""
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._held = False


_QUEUES: dict[str, WriterQueue] = {}
_QUEUES_MUTEX = threading.Lock()


def writer_queue(database: str | None) -> WriterQueue | None:
    """The queue of a SQLite file, shared by every engine on it in this process; None for
    an in-memory database (one per connection: each connection gets a queue of its own)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    key = os.path.realpath(database)
    with _QUEUES_MUTEX:
        return _QUEUES.setdefault(key, WriterQueue())


def _forget_queues() -> None:
    # A forked child (a granian worker) starts with no writer in flight: fresh queues.
    global _QUEUES_MUTEX
    _QUEUES_MUTEX = threading.Lock()
    _QUEUES.clear()


os.register_at_fork(after_in_child=_forget_queues)


class QueuedConnection(sqlite3.Connection):
    """A SQLite connection that leaves its writer queue when its transaction ends."""

    queue: WriterQueue | None = None
    _in_queue = False

    def enter_queue(self) -> None:
        if self.queue is None or self._in_queue:
            return
        if not self.queue.enter(BUSY_TIMEOUT_SECONDS):
            raise OperationalError(
                "BEGIN IMMEDIATE",
                None,
                sqlite3.OperationalError("database is locked (no turn in the writer queue)"),
            )
        self._in_queue = True

    def leave_queue(self) -> None:
        if self._in_queue and not self.in_transaction:
            self._in_queue = False
            assert self.queue is not None
            self.queue.leave()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_queue()  # a failed COMMIT stays in the queue until its rollback

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_queue()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._in_queue:
                self._in_queue = False
                assert self.queue is not None
                self.queue.leave()


def _prepare_sqlite(engine: Engine, database: str | None) -> None:
    """Make every SQLite transaction take the write lock at BEGIN, in this process's queue.

    pysqlite defers BEGIN until the first write, so two transactions could both read the
    same available credit before either writes. BEGIN IMMEDIATE serializes writers at the
    start, which is SQLite's equivalent of locking the account row. Before it, a writer
    waits for its turn in the file's ``WriterQueue`` (see there why); a snapshot does not.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: QueuedConnection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" hook emit BEGIN
        # Looked up per connection: after a fork the child's connections share new queues.
        dbapi_connection.queue = writer_queue(database) or WriterQueue()
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A snapshot (see Database.snapshot) only reads: a deferred BEGIN reads the WAL
        # snapshot without taking the write lock, so writers carry on beside it.
        if connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("BEGIN")
            return
        # Out of the queue at COMMIT or ROLLBACK: a failed BEGIN too, as the pool rolls
        # back every connection given back to it.
        connection.connection.driver_connection.enter_queue()
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
        connect_args = {
            "check_same_thread": False,
            "timeout": BUSY_TIMEOUT_SECONDS,
            "factory": QueuedConnection,
        }
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _prepare_sqlite(engine, url.database)
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
