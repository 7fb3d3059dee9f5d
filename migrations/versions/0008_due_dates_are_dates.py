"""Due dates are dates of the store's calendar, no longer UTC moments.

Each invoice keeps the day its due moment fell on in the store's time zone (the default,
``America/Sao_Paulo``: no store could choose another before this revision). The day is
not moved to a business day: customers were told these dates, and an invoice now turns
overdue at the end of that day rather than at its time of settlement, never earlier.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 12:00:00
"""

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from connector.migrate import sqlite_table_rebuild

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZONE = "America/Sao_Paulo"
_COLUMNS = ("original_due_date", "due_date")
_INVOICES = sa.table(
    "invoices",
    sa.column("id", sa.String),
    sa.column("original_due_date", sa.String),
    sa.column("due_date", sa.String),
)
_BATCH = 5000


def _local_day(stored: str) -> str:
    """SQLite keeps a UTC moment as naive text: its day in the store's zone."""
    moment = datetime.fromisoformat(stored).replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(ZONE)).date().isoformat()


def _midnight(stored: str) -> str:
    """A day back to a UTC moment: the first moment of that day in the store's zone."""
    start = datetime.combine(date.fromisoformat(stored[:10]), time.min, tzinfo=ZoneInfo(ZONE))
    return start.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def _retype_sqlite(type_: sa.types.TypeEngine[object], convert: Callable[[str], str]) -> None:
    """Change the columns' type, then write each value converted.

    A batch migration copies the table with ``CAST(column AS DATE)``, which SQLite reads as
    a number (``2026``), so the values are read first and written again after the copy.
    """
    bind = op.get_bind()
    rows = bind.execute(sa.select(_INVOICES.c.id, *(_INVOICES.c[c] for c in _COLUMNS))).all()
    with sqlite_table_rebuild(bind), op.batch_alter_table("invoices") as batch:
        for column in _COLUMNS:
            batch.alter_column(column, type_=type_, existing_nullable=False)
    update = (
        _INVOICES.update()
        .where(_INVOICES.c.id == sa.bindparam("key"))
        .values({c: sa.bindparam(f"new_{c}") for c in _COLUMNS})
    )
    for start in range(0, len(rows), _BATCH):
        changes = [
            {"key": key, "new_original_due_date": convert(original), "new_due_date": convert(due)}
            for key, original, due in rows[start : start + _BATCH]
        ]
        bind.execute(update, changes)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in _COLUMNS:
            op.alter_column(
                "invoices",
                column,
                type_=sa.Date(),
                postgresql_using=f"({column} AT TIME ZONE '{ZONE}')::date",
            )
        return
    _retype_sqlite(sa.Date(), _local_day)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in _COLUMNS:
            op.alter_column(
                "invoices",
                column,
                type_=sa.DateTime(timezone=True),
                postgresql_using=f"({column}::timestamp AT TIME ZONE '{ZONE}')",
            )
        return
    _retype_sqlite(sa.DateTime(timezone=True), _midnight)
