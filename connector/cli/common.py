"""What every command shares: the settings, one database per command, one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from connector.config import ConfigError, Settings, load_settings
from connector.db import Database
from connector.errors import ConnectorError

F = TypeVar("F", bound=Callable[..., Any])


class Command:
    """A command's settings and its one ``Database``, opened on first use and disposed of
    when the command ends."""

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
            self._db = Database(
                self.settings.database_url,
                prepared_statements=self.settings.db_prepared_statements,
            )
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None


pass_command = click.make_pass_decorator(Command, ensure=True)


def friendly(func: F) -> F:
    """Turn the service's own errors into a one-line message and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConnectorError as exc:
            raise click.ClickException(exc.message) from exc

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
