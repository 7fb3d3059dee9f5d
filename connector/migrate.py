"""Applying the Alembic migrations, the only source of the schema."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from connector.db import make_engine
from connector.resources import migrations_path

log = logging.getLogger(__name__)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@cache
def _script() -> ScriptDirectory:
    """The migrations shipped with this version (read once per process)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revisions() -> frozenset[str]:
    """The revisions this version of the code expects the database to be at."""
    return frozenset(_script().get_heads())


def known_revision(revision: str) -> bool:
    """Whether this version ships that revision (else a newer version applied it)."""
    try:
        return _script().get_revision(revision) is not None
    except Exception:  # alembic raises its own errors for unknown ids
        return False


def current_revisions(connection: Connection) -> frozenset[str]:
    """The revisions the database is at (empty: no schema yet)."""
    return frozenset(MigrationContext.configure(connection).get_current_heads())


def upgrade(database_url: str, revision: str = "head") -> list[str]:
    """Bring the database up to ``revision`` (the latest by default); the revisions applied.

    Silent when there is nothing to apply: Alembic's own lines stay at WARNING
    (``connector.logs``), and each migration this call applies is logged here, once (a
    server starting beside another that already applied it logs nothing).
    """
    engine = make_engine(database_url)  # creates a SQLite file's folder
    try:
        with engine.connect() as connection:
            before = current_revisions(connection)
    finally:
        engine.dispose()
    if revision == "head" and before == head_revisions():
        return []
    applied: list[str] = []

    def record(*, step: Any, **_: Any) -> None:
        if step.is_upgrade:
            applied.append(step.up_revision_id)
            log.info(
                "migration applied",
                extra={"revision": step.up_revision_id, "title": _title(step.up_revision)},
            )

    config = alembic_config(database_url)
    config.attributes["on_version_apply"] = record  # read by migrations/env.py
    command.upgrade(config, revision)
    return applied


def _title(script: Any) -> str:
    return str(script.doc or "").split("\n")[0].strip() if script is not None else ""


def is_current(engine: Engine) -> bool:
    """Whether the database is at the latest revision."""
    with engine.connect() as connection:
        return current_revisions(connection) == head_revisions()


@contextmanager
def sqlite_table_rebuild(bind: Connection) -> Iterator[None]:
    """Around a batch change of a table other tables point at (a no-op on PostgreSQL).

    SQLite changes a column by copying the table, dropping it and renaming the copy. With
    foreign keys enforced the drop fails while rows point at the table, and
    ``foreign_keys = OFF`` is ignored inside a transaction. So, as SQLite's own procedure
    for table changes says: commit what came before, turn the checks off, rebuild in a
    transaction of its own, prove every reference still holds, and turn them back on.
    """
    if bind.dialect.name != "sqlite":
        yield
        return
    raw = bind.connection.dbapi_connection
    assert raw is not None
    raw.execute("COMMIT")
    raw.execute("PRAGMA foreign_keys = OFF")
    raw.execute("BEGIN IMMEDIATE")
    yield
    broken = bind.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:5]}")
    raw.execute("COMMIT")
    raw.execute("PRAGMA foreign_keys = ON")
    raw.execute("BEGIN IMMEDIATE")
