"""Alembic environment: the URL comes from the caller's config, the metadata from the models."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import text

from connector.db import UTCDateTime, make_engine
from connector.models import Base

# One lock id for "migrating this database", so two starting servers never race.
_ADVISORY_LOCK = 74_211_903

target_metadata = Base.metadata


def render_item(kind: str, obj: Any, _autogen_context: Any) -> str | bool:
    """Write our UTC type as a plain timezone-aware DateTime, so migrations stand alone."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set by the caller"
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=render_item,
            # connector.migrate logs each migration it applies, and nothing otherwise.
            on_version_apply=context.config.attributes.get("on_version_apply"),
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Held until this transaction ends, and taken before Alembic reads the
                # current revision: a second server waits, then finds nothing to do. A
                # transaction's lock, not a session's, so it holds behind a pooler in
                # transaction mode too, where a session's lock would stay on whichever
                # server connection took it.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK}
                )
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `connector db upgrade`")
run_migrations_online()
