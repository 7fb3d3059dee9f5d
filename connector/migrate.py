"""Applying the Alembic migrations, the only source of the schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from connector.resources import migrations_path


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database up to ``revision`` (the latest by default)."""
    command.upgrade(alembic_config(database_url), revision)


def is_current(engine: Engine) -> bool:
    """Whether the database is at the latest revision."""
    script = ScriptDirectory.from_config(alembic_config(engine.url.render_as_string(False)))
    with engine.connect() as connection:
        heads = set(MigrationContext.configure(connection).get_current_heads())
    return heads == set(script.get_heads())


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
