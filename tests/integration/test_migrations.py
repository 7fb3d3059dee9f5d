"""The schema comes from the migrations alone, and the models agree with it."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from connector.db import Database, make_engine
from connector.migrate import alembic_config, is_current, upgrade
from connector.models import Base


def test_models_and_migrations_have_not_drifted(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models differ from migrations: {differences}"


def test_the_test_database_is_at_the_latest_revision(database: Database) -> None:
    assert is_current(database.engine)


def test_migrations_build_every_table_and_go_down_again(tmp_path: Path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    command.downgrade(alembic_config(url), "base")
    assert inspect(engine).get_table_names() == ["alembic_version"]
    upgrade(url)
    assert is_current(engine)
    engine.dispose()
