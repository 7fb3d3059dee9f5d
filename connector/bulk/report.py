"""What became of each row, and the error report a merchant downloads to fix the file.

Row reasons are stored in English, filled with their values: the scheduler runs an import
with no page and no language. Where they are shown to a merchant (the admin's import page
and its error report), a reason whose template is one of ``ROW_REASONS`` is matched back
to that template and its values and translated (``localized_reason``); the API and the
CLI show the stored English.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal

from connector.bulk.csvio import SheetRow, csv_text
from connector.bulk.history import ImportRowError, RowError, get_job, iter_errors
from connector.bulk.sheet_formats import SHEET_REASONS
from connector.credit.identity import DOCUMENT_REASONS
from connector.db import Database
from connector.errors import N_, Code, ConnectorError
from connector.money import RATE_REASONS

Result = Literal["created", "updated", "unchanged", "failed"]
REPORT_HEADER = ("Row", "Column", "Value", "Code", "Reason")
# The report's header in the merchant's language (its words are translated when shown).
REPORT_TITLES = (N_("Row"), N_("Column"), N_("Value"), N_("Code"), N_("Reason"))
# Row reasons a page finds again in the stored English text, to say them in its language.
ROW_REASONS = (*SHEET_REASONS, *RATE_REASONS, *DOCUMENT_REASONS)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
Translate = Callable[..., str]  # gettext: a template and its values, in some language


@cache
def _template_pattern(template: str) -> re.Pattern[str]:
    """A template as a pattern whose groups take back the values it was filled with."""
    parts: list[str] = []
    seen: set[str] = set()
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        parts.append(re.escape(template[position : match.start()]))
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        position = match.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts), re.DOTALL)


def localized_reason(stored: str, translate: Translate) -> str:
    """A stored row reason in ``translate``'s language when its template is known, else
    as stored (a credit service's refusal)."""
    for template in ROW_REASONS:
        found = _template_pattern(template).fullmatch(stored)
        if found is not None:
            return translate(template, **found.groupdict())
    return stored


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


def job_report(
    db: Database,
    job_id: str,
    *,
    delimiter: str | None = None,
    translate: Translate | None = None,
) -> Iterator[str]:
    """An import's error report, streamed from one snapshot.

    The job is looked up now, so an unknown one raises ``NotFound`` before anything is
    sent; without ``delimiter``, the report uses the uploaded file's own. With
    ``translate`` its header and known reasons are in that language, else in English.
    """
    with db.transaction(read_only=True) as session:
        uploaded = get_job(session, job_id).delimiter
    chosen = delimiter or uploaded or ","

    def pieces() -> Iterator[str]:
        with db.transaction(read_only=True) as session:
            errors = iter_errors(session, job_id)
            yield from report_text(errors, delimiter=chosen, translate=translate)

    return pieces()


def report_text(
    errors: Iterable[ImportRowError], *, delimiter: str = ",", translate: Translate | None = None
) -> Iterator[str]:
    """The error report as CSV: row number, column, the cell's value, code and reason."""
    if translate is None:
        rows = ((e.row_number, e.column_name, e.value, e.code, e.reason) for e in errors)
        return csv_text(REPORT_HEADER, rows, delimiter=delimiter)
    localized = (
        (e.row_number, e.column_name, e.value, e.code, localized_reason(e.reason, translate))
        for e in errors
    )
    return csv_text(tuple(translate(t) for t in REPORT_TITLES), localized, delimiter=delimiter)
