"""What every command shares: the settings, one database per command, one-line errors.

Every command reaches the database ``connector serve`` uses, from whatever folder it is
run: the default instance folder is the user's (``config.default_instance_path``), not
the working directory. Only ``serve`` and ``db upgrade`` create a database (and a SQLite
file's folder); any other command refuses, naming the database it would have used, when
that database is missing or not at this version's schema.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from connector.config import ConfigError, Settings, load_settings
from connector.db import Database
from connector.errors import ConnectorError

F = TypeVar("F", bound=Callable[..., Any])

_CREATE = '"connector serve" or "connector db upgrade"'
_LEGACY = Path("instance") / "connector.sqlite3"  # where versions before 0.2 kept it


class Command:
    """A command's settings and its one ``Database``, opened on first use (checked to
    exist and to be at this version's schema) and disposed of when the command ends."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._db: Database | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except ConfigError as exc:
                raise click.ClickException(f"configuration: {exc}") from exc
        return self._settings

    @property
    def db(self) -> Database:
        if self._db is None:
            self.check_location(creating=False)
            db = Database(
                self.settings.database_url,
                prepared_statements=self.settings.db_prepared_statements,
            )
            try:
                check_schema(db)
            except BaseException:
                db.dispose()
                raise
            self._db = db
        return self._db

    def check_location(self, *, creating: bool) -> None:
        """Refuse a database that is not the one ``serve`` would use, or is not there."""
        settings = self.settings
        url = make_url(settings.database_url)
        if url.get_backend_name() != "sqlite":
            return
        path = Path(url.database or "")
        defaulted = not os.environ.get("DATABASE_URL") and not os.environ.get(
            "CONNECTOR_INSTANCE_PATH"
        )
        legacy = _LEGACY.resolve()
        if defaulted and not path.exists() and legacy.is_file() and legacy != path:
            raise click.ClickException(
                f"{legacy} is where earlier versions kept the database, but the default is "
                f"now {settings.instance_path}: set CONNECTOR_INSTANCE_PATH={legacy.parent} "
                "to keep using it, or move that folder there"
            )
        if not creating and not path.is_file():
            raise click.ClickException(
                f"no database at {path}: run {_CREATE} to create it, or set DATABASE_URL "
                "(or CONNECTOR_INSTANCE_PATH) to the one connector serve uses"
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None


pass_command = click.make_pass_decorator(Command, ensure=True)


def shown(database_url: str) -> str:
    """A database URL as messages name it: the password hidden, a SQLite file by path."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return url.render_as_string(hide_password=True)


def check_schema(db: Database) -> None:
    """Refuse a database without this version's schema, saying what to run."""
    from connector.migrate import current_revisions, head_revisions

    with db.engine.connect() as connection:
        current = current_revisions(connection)
    expected = head_revisions()
    if current == expected:
        return
    where = shown(db.url)
    if not current:
        raise click.ClickException(
            f"the database {where} has no tables yet: run {_CREATE} to create them"
        )
    from connector.migrate import known_revision

    if all(known_revision(revision) for revision in current):
        raise click.ClickException(
            f"the database {where} is at revision {', '.join(sorted(current))}, this version "
            f'expects {", ".join(sorted(expected))}: run "connector db upgrade"'
        )
    raise click.ClickException(
        f"the database {where} is at revision {', '.join(sorted(current))}, which this "
        "version does not know (a newer version migrated it): upgrade connector"
    )


def database_problem(exc: DBAPIError, database_url: str | None) -> str:
    """One line: what went wrong with the database, and what to do."""
    cause = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
    where = shown(database_url) if database_url else "the database"
    lowered = cause.lower()
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return f'the database {where} lacks a table ({cause}): run "connector db upgrade"'
    if exc.connection_invalidated or _is_connection_failure(lowered):
        return (
            f"cannot reach the database {where}: {cause}. Start it, or set DATABASE_URL "
            "to one that answers"
        )
    return f"the database {where} failed: {cause}"


def _is_connection_failure(cause: str) -> bool:
    return any(
        words in cause
        for words in (
            "connection",
            "could not translate host name",
            "unable to open database file",
            "timeout expired",
            "password authentication failed",
            "does not exist",  # database "x" does not exist
        )
    )


def refusal(exc: ConnectorError) -> str:
    """A service's refusal in one line that names the rule: the message, then each bad
    field's reason the message does not already say."""
    extra = [f"{name}: {why}" for name, why in exc.fields.items() if why not in exc.message]
    return f"{exc.message} ({'; '.join(extra)})" if extra else exc.message


def friendly(func: F) -> F:
    """Turn the service's own errors into a one-line message and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConnectorError as exc:
            raise click.ClickException(refusal(exc)) from exc

    return wrapper  # type: ignore[return-value]


def write_csv(pieces: Iterable[str], output: Path | None) -> None:
    """To a file (UTF-8 with BOM, for spreadsheets) or to standard output (without)."""
    if output is None:
        for piece in pieces:
            sys.stdout.write(piece)
        sys.stdout.flush()
        return
    partial = output.with_name(output.name + ".partial")
    with partial.open("w", encoding="utf-8-sig", newline="") as target:
        for piece in pieces:
            target.write(piece)
    partial.replace(output)  # a half-written export never looks finished
