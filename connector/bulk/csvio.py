"""Reading the CSV files that real spreadsheets save, and writing ones they open safely.

Reading: UTF-8 with or without BOM, UTF-16 with BOM (Excel's "Unicode text"), and
Windows-1252 (Latin-1) otherwise; comma, semicolon or tab delimiters, detected from the
header line (Excel's ``sep=;`` first line is honoured); header names matched without
regard to case, accents, spaces or punctuation; blank lines skipped but counted, so row
numbers are the ones the spreadsheet shows (the header is row 1).

Writing: every text cell that a spreadsheet would run as a formula is escaped with a
leading apostrophe, which reading removes again, so an export can be re-imported as is.
Numbers we compute (amounts, counts) are written as plain numbers and never escaped, so a
negative balance stays a number; rates as percentages with their sign (``10%``).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, BinaryIO

from connector.errors import Code, fill
from connector.money import percent_text

# What a spreadsheet may run as a formula when a cell starts with it (OWASP's list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
DELIMITERS = (",", ";", "\t")
_BLOCK = 1 << 20
_CELL_LIMIT = 1 << 20  # one cell of up to a mebibyte; a runaway quote fails fast beyond it
_SEP_HINT = re.compile(r"^\s*sep=(.)\s*$")
_UNIT = re.compile(r"\s*\([^()]*\)\s*$")  # a header's unit: "Limite de crédito (R$)"


class FileProblem(Exception):
    """The file as a whole cannot be imported (the report names what to fix).

    ``template`` and ``values`` make the message, as a ``ConnectorError``'s do.
    """

    def __init__(
        self,
        code: Code,
        template: str,
        *,
        column: str | None = None,
        row: int = 1,
        **values: Any,
    ) -> None:
        self.code = code
        self.template = template
        self.values = values
        self.message = fill(template, values)
        super().__init__(self.message)
        self.column = column
        self.row = row


def _would_run(text: str) -> bool:
    """Whether a spreadsheet runs the text, or would once one leading apostrophe is removed."""
    rest = text.lstrip("'")
    return rest[:1] != "" and rest[0] in FORMULA_START


def escape_text(text: str) -> str:
    """Prefix an apostrophe to text a spreadsheet would otherwise run as a formula.

    Text that already starts with apostrophes before such a character gets one more, so
    that ``unescape_text`` gives back exactly what was escaped, whatever it was.
    """
    return "'" + text if _would_run(text) else text


def unescape_text(text: str) -> str:
    """Undo ``escape_text``: an apostrophe before a formula character is ours, not data."""
    if text.startswith("'") and _would_run(text[1:]):
        return text[1:]
    return text


def header_key(name: str) -> str:
    """A header name compared without case, accents, spaces or punctuation."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed.casefold() if c.isalnum())


# --- What a first pass over the bytes learns ---------------------------------------


@dataclass(frozen=True)
class FileFacts:
    encoding: str
    size: int
    sha256: str
    lines: int  # line breaks: an estimate of the rows, before blank lines are skipped


class FactsCollector:
    """Learns a file's encoding, size, digest and line count from its blocks, in one pass."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._size = 0
        self._lines = 0
        self._head = b""
        self._last = b""
        self._utf8: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("utf-8")()
        self._cp1252: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("cp1252")()

    def feed(self, block: bytes) -> None:
        self._sha.update(block)
        self._size += len(block)
        self._lines += block.count(b"\n")
        if block:
            self._last = block[-1:]
        if len(self._head) < 8:
            self._head += block[: 8 - len(self._head)]
        for name in ("_utf8", "_cp1252"):
            decoder = getattr(self, name)
            if decoder is not None:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    setattr(self, name, None)

    def facts(self) -> FileFacts:
        for name in ("_utf8", "_cp1252"):
            decoder = getattr(self, name)
            if decoder is not None:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    setattr(self, name, None)
        head = self._head
        if head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        elif self._utf8 is not None:
            encoding = "utf-8"
        elif self._cp1252 is not None:
            encoding = "cp1252"
        else:
            # Bytes that Windows-1252 leaves undefined: only Latin-1 reads every byte.
            encoding = "latin-1"
        unterminated = 1 if self._size and self._last != b"\n" else 0
        return FileFacts(encoding, self._size, self._sha.hexdigest(), self._lines + unterminated)


def read_facts(stream: BinaryIO) -> FileFacts:
    """Read a whole stream once for its facts (the caller rewinds it if it needs to)."""
    collector = FactsCollector()
    while block := stream.read(_BLOCK):
        collector.feed(block)
    return collector.facts()


def check_not_a_workbook(head: bytes) -> None:
    """Refuse a spreadsheet workbook with a message that says what to do instead."""
    if head.startswith(b"PK\x03\x04"):
        raise FileProblem(
            Code.NOT_CSV, "this is an Excel or OpenDocument workbook; save it as CSV and retry"
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(
            Code.NOT_CSV, "this is an Excel 97-2003 workbook; save it as CSV and retry"
        )


# --- Reading ------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column we read: its field, the name in our templates and the other names it may have."""

    field: str
    title: str
    aliases: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class SheetRow:
    number: int  # the row number a spreadsheet shows; the header is row 1
    cells: dict[str, str]  # field -> text, stripped ("" when empty or missing)
    extra: tuple[str, ...] = ()  # non-empty cells beyond the last header


@dataclass
class Sheet:
    """An opened CSV file: decoded, delimiter detected, header mapped to our fields."""

    delimiter: str
    header_row: int
    titles: dict[str, str]  # field -> the header as the file writes it
    ignored: list[str]  # headers that name none of our columns
    problem: FileProblem | None = field(default=None, init=False)  # why rows() stopped early
    _reader: Iterator[list[str]] = field(repr=False)
    _positions: dict[str, int] = field(repr=False)
    _width: int = field(repr=False)

    def title(self, field_name: str, columns: Sequence[Column]) -> str:
        """The file's name for a field, or our template's when the file has no such column."""
        if field_name in self.titles:
            return self.titles[field_name]
        return next((c.title for c in columns if c.field == field_name), field_name)

    def rows(self) -> Iterator[SheetRow]:
        """The data rows in order, blank ones skipped (their numbers are kept).

        A row that cannot be read ends the rows, with ``problem`` saying why: the rows
        before it are still handed out, so they are imported, and the caller reports it.
        """
        number = self.header_row
        positions = list(self._positions.items())
        width = self._width
        try:
            for record in self._reader:
                number += 1
                if not any(cell.strip() for cell in record):
                    continue
                cells = {
                    name: unescape_text(record[i].strip()) if i < len(record) else ""
                    for name, i in positions
                }
                extra = tuple(c for c in record[width:] if c.strip())
                yield SheetRow(number, cells, extra)
        except (csv.Error, UnicodeDecodeError) as exc:
            self.problem = FileProblem(
                Code.UNREADABLE_ROW,
                "row {line} cannot be read as CSV ({cause}); the rows before it were processed",
                row=number + 1,
                line=number + 1,
                cause=exc,
            )


def _detect_delimiter(line: str) -> str:
    """The delimiter that splits the header line most often (outside quotes)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def open_sheet(stream: BinaryIO, encoding: str, columns: Sequence[Column]) -> Sheet:
    """Decode a binary stream, find its header and map it to ``columns``.

    Raises FileProblem when the header lacks a required column, names one twice, or the
    file has no header at all.
    """
    text = io.TextIOWrapper(stream, encoding=encoding, newline="", errors="strict")
    header_row = 0
    line = ""
    delimiter: str | None = None
    try:
        while True:
            line = text.readline()
            if not line:
                raise FileProblem(Code.EMPTY_FILE, "the file has no header row")
            header_row += 1
            hint = _SEP_HINT.match(line)
            if hint and delimiter is None and header_row == 1:
                delimiter = hint.group(1)
                continue
            if line.strip(" \t\r\n\ufeff,;"):
                break
    except UnicodeDecodeError as exc:
        raise FileProblem(
            Code.UNREADABLE_FILE, "the file is not readable as {encoding}", encoding=encoding
        ) from exc
    if delimiter is None:
        delimiter = _detect_delimiter(line)
    csv.field_size_limit(_CELL_LIMIT)
    header = next(csv.reader([line], delimiter=delimiter))
    by_key: dict[str, Column] = {}
    for known in columns:
        for name in (known.field, known.title, *known.aliases):
            by_key.setdefault(header_key(name), known)
    positions: dict[str, int] = {}
    titles: dict[str, str] = {}
    ignored: list[str] = []
    for index, raw in enumerate(header):
        name = raw.strip().lstrip("\ufeff").strip()
        if not name:
            continue
        found = by_key.get(header_key(name)) or by_key.get(header_key(_UNIT.sub("", name)))
        if found is None:
            ignored.append(name)
            continue
        column = found
        if column.field in positions:
            raise FileProblem(
                Code.DUPLICATE_COLUMN,
                "columns {first} and {second} both mean {meaning}",
                column=name,
                row=header_row,
                first=repr(titles[column.field]),
                second=repr(name),
                meaning=repr(column.title),
            )
        positions[column.field] = index
        titles[column.field] = name
    missing = [c.title for c in columns if c.required and c.field not in positions]
    if missing:
        expected = ", ".join(c.title for c in columns if c.required)
        raise FileProblem(
            Code.MISSING_COLUMN,
            "the header (row {header_row}) lacks {missing}; "
            "the first row must name the columns, at least: {expected}",
            column=missing[0],
            row=header_row,
            header_row=header_row,
            missing=", ".join(missing),
            expected=expected,
        )
    reader = csv.reader(text, delimiter=delimiter, strict=False)
    return Sheet(delimiter, header_row, titles, ignored, reader, positions, len(header))


# --- Writing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Percent:
    """A rate written as a percentage with its sign (``10%``; ``12,5%`` with decimal commas):
    spreadsheets read it as the number 0.1 shown as a percentage, write it back the same
    way, and the import reads it as a rate."""

    fraction: Decimal


Cell = str | int | Decimal | Percent | datetime | date | bool | None


@dataclass(frozen=True)
class CellStyle:
    """How a file writes what is not text: the technical format (ISO dates, moments with
    their offset, decimal points, Yes/No) unless told otherwise. ``day_first`` writes
    dates as ``31/12/2026`` and moments as ``31/12/2026 14:05`` in ``zone`` (what
    spreadsheets in Spanish and Portuguese read as dates)."""

    decimal_comma: bool = False
    zone: tzinfo = UTC
    day_first: bool = False
    yes: str = "Yes"
    no: str = "No"


def format_cell(
    value: Cell, decimal_comma: bool = False, zone: tzinfo = UTC, style: CellStyle | None = None
) -> str:
    """A value as a CSV cell: text escaped, numbers plain, dates and moments as ``style``
    says (ISO 8601 by default, moments in its zone with their offset, ``Z`` in UTC)."""
    style = style or CellStyle(decimal_comma, zone)
    if value is None:
        return ""
    if isinstance(value, str):
        return escape_text(value)
    if isinstance(value, bool):
        return style.yes if value else style.no
    if isinstance(value, datetime):
        if style.day_first:
            return value.astimezone(style.zone).strftime("%d/%m/%Y %H:%M")
        return format_moment_in(value, style.zone)
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y") if style.day_first else value.isoformat()
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text.replace(".", ",") if style.decimal_comma else text
    if isinstance(value, Percent):
        text = percent_text(value.fraction)
        return text.replace(".", ",") if style.decimal_comma else text
    return str(value)


def format_moment_in(moment: datetime, zone: tzinfo) -> str:
    """``2026-11-30T07:27:16-03:00``: the moment's wall time in ``zone`` and the offset."""
    local = moment.astimezone(zone)
    if local.utcoffset() == timedelta(0):
        return local.strftime("%Y-%m-%dT%H:%M:%SZ")
    return local.isoformat(timespec="seconds")


class CsvWriter:
    """Rows into CSV text, handed out in pieces so a stream never holds the whole file."""

    def __init__(
        self, delimiter: str = ",", zone: tzinfo = UTC, style: CellStyle | None = None
    ) -> None:
        if delimiter not in DELIMITERS:
            raise ValueError(f"unsupported delimiter {delimiter!r}")
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, delimiter=delimiter, lineterminator="\r\n")
        # Spreadsheets in locales that separate with ";" read "," as the decimal point.
        self._style = style or CellStyle(decimal_comma=delimiter == ";", zone=zone)

    def row(self, values: Iterable[Cell]) -> None:
        style = self._style
        self._writer.writerow([format_cell(v, style=style) for v in values])

    def take(self) -> str:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text

    def pending(self) -> int:
        return self._buffer.tell()


def csv_text(
    header: Sequence[str],
    rows: Iterable[Iterable[Cell]],
    *,
    delimiter: str = ",",
    zone: tzinfo = UTC,
    piece: int = 1 << 16,
    style: CellStyle | None = None,
) -> Iterator[str]:
    """A CSV document as pieces of about ``piece`` characters: header, then every row."""
    writer = CsvWriter(delimiter, zone, style)
    writer.row(header)
    for values in rows:
        writer.row(values)
        if writer.pending() >= piece:
            yield writer.take()
    yield writer.take()
