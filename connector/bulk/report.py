"""What became of each row, and the error report a merchant downloads to fix the file."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from connector.bulk.csvio import SheetRow, csv_text
from connector.bulk.history import ImportRowError, RowError, get_job, iter_errors
from connector.db import Database
from connector.errors import Code, ConnectorError

Result = Literal["created", "updated", "unchanged", "failed"]
REPORT_HEADER = ("Row", "Column", "Value", "Code", "Reason")


@dataclass(frozen=True)
class Outcome:
    row: int
    result: Result
    errors: tuple[RowError, ...] = ()


def too_many_cells(row: SheetRow) -> list[RowError]:
    """The error of a row longer than its header (none when it is not)."""
    if not row.extra:
        return []
    return [
        RowError(
            row.number,
            None,
            row.extra[0],
            Code.TOO_MANY_CELLS,
            f"the row has {len(row.extra)} more cell(s) than the header has columns; "
            "is a value containing the delimiter missing its quotes?",
        )
    ]


def failed(errors: Iterable[RowError]) -> Outcome:
    listed = tuple(errors)
    return Outcome(listed[0].row, "failed", listed)


def reason_of(error: ConnectorError) -> str:
    """The service's message, with what it says about each field when that adds anything."""
    details = [str(v) for v in error.fields.values() if str(v) and str(v) not in error.message]
    return f"{error.message}: {'; '.join(details)}" if details else error.message


def refusal(
    row: int,
    error: ConnectorError,
    *,
    field_of: Mapping[str, str],
    default_field: str | None,
    title: Callable[[str], str],
    cells: Mapping[str, str],
) -> Outcome:
    """A row refused by a credit service, reported against the column the error names."""
    named = [field_of[name] for name in error.fields if name in field_of]
    field = named[0] if named else default_field
    value = cells.get(field) or None if field else None
    column = title(field) if field else None
    return failed([RowError(row, column, value, error.code, reason_of(error))])


def job_report(db: Database, job_id: str, *, delimiter: str | None = None) -> Iterator[str]:
    """An import's error report, streamed from one snapshot.

    The job is looked up now, so an unknown one raises ``NotFound`` before anything is
    sent; without ``delimiter``, the report uses the uploaded file's own.
    """
    with db.transaction(read_only=True) as session:
        uploaded = get_job(session, job_id).delimiter
    chosen = delimiter or uploaded or ","

    def pieces() -> Iterator[str]:
        with db.transaction(read_only=True) as session:
            yield from report_text(iter_errors(session, job_id), delimiter=chosen)

    return pieces()


def report_text(errors: Iterable[ImportRowError], *, delimiter: str = ",") -> Iterator[str]:
    """The error report as CSV: row number, column, the cell's value, code and reason."""
    rows = ((e.row_number, e.column_name, e.value, e.code, e.reason) for e in errors)
    return csv_text(REPORT_HEADER, rows, delimiter=delimiter)
