"""How each language's spreadsheets write a bulk file, and how an uploaded file is read.

Writing: the English export is the technical format integrations read (``,``, ISO dates,
moments with their offset, decimal points, the API's English words, documents as stored).
Spanish and Portuguese files are what Excel in those locales opens as numbers and dates:
``;``, ``31/12/2026``, moments as ``31/12/2026 14:05`` in the store's time zone,
``1234,56`` (no thousands separator), the language's headers (with units) and words, and
documents masked as people there read them (``123.456.789-09``).

Reading: one ``FileFormat`` per file, chosen once from its header and separator (never
per cell): a file whose headers are Spanish or Portuguese, or that is separated by
semicolons, writes dates day first and decimals with a comma; any other is technical.
The words of every language are accepted in any file, so the same file imports whatever
the language of the page that uploads it.

Row reasons are stored in English, filled with their values (the import runs with no
page); each template here is one ``pybabel`` finds, and ``report.localized_reason`` finds
a stored reason's template again to show it in the page's language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, tzinfo
from typing import Any

from connector.bulk.csvio import Cell, CellStyle, csv_text, header_key
from connector.bulk.templates import (
    TITLE_LANGUAGES,
    YES_NO_WORDS,
    Heading,
    Kind,
    Lang,
    example_values,
    headings_of,
    template_header,
    word_of,
)
from connector.errors import N_, fill
from connector.money import AmountError, parse_cents

# --- Reasons a value is refused (the expected form named in the file's format) -------

DATE_DAY_FIRST = N_("{value} is not a date: write day/month/year as dd/mm/yyyy, e.g. 31/12/2026")
DATE_ISO = N_("{value} is not a date: write year-month-day as yyyy-mm-dd, e.g. 2026-12-31")
AMOUNT_COMMA = N_(
    "{value} is not an amount: write it with a decimal comma and no thousands separator, "
    "e.g. 1234,56"
)
AMOUNT_POINT = N_(
    "{value} is not an amount: write it with a decimal point and no thousands separator, "
    "e.g. 1234.56"
)
AMOUNT_NEGATIVE = N_("{value} is negative: write an amount of zero or more")
STATUS_WORDS_REASON = N_("{value} is not a status: write {paid}, {cancelled} or {opened}")
METHOD_REASON = N_("{value} is not a payment method: write {pix}, {boleto}, {transfer} or {other}")
DOCUMENT_TYPE_REASON = N_("{value} is not a document type: write one of {names}")
REQUIRED_TO_OPEN = N_("{column} is required to open an account")
REQUIRED_KEY = N_("give the Id, the Document or the Email of the account to update")
REQUIRED_INVOICE_ID = N_("the invoice Id is required")
SHEET_REASONS = (
    DATE_DAY_FIRST,
    DATE_ISO,
    AMOUNT_COMMA,
    AMOUNT_POINT,
    AMOUNT_NEGATIVE,
    STATUS_WORDS_REASON,
    METHOD_REASON,
    DOCUMENT_TYPE_REASON,
    REQUIRED_TO_OPEN,
    REQUIRED_KEY,
    REQUIRED_INVOICE_ID,
)


class ValueProblem(ValueError):
    """A cell that is not what its column takes: an English template and its values."""

    def __init__(self, template: str, **values: Any) -> None:
        self.template = template
        self.values = values
        super().__init__(fill(template, values))


# --- Writing ------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetFormat:
    """How files in one language write values: separator, dates, numbers, words, and
    documents (masked as people write them, or raw as stored)."""

    lang: Lang
    delimiter: str
    day_first: bool
    decimal_comma: bool
    masked_documents: bool

    def style(self, zone: tzinfo = UTC) -> CellStyle:
        return CellStyle(
            decimal_comma=self.decimal_comma,
            zone=zone,
            day_first=self.day_first,
            yes=YES_NO_WORDS[True][self.lang][0],
            no=YES_NO_WORDS[False][self.lang][0],
        )

    def localized(
        self, headings: tuple[Heading, ...], rows: Iterable[tuple[Cell, ...]]
    ) -> Iterable[tuple[Cell, ...]]:
        """Rows with the stored words of worded columns (statuses...) in this language;
        English rows pass through untouched (the API's words are the stored ones)."""
        if self.lang == "en":
            return rows
        worded = [(i, h.words) for i, h in enumerate(headings) if h.words]
        lang = self.lang

        def translate(row: tuple[Cell, ...]) -> tuple[Cell, ...]:
            cells = list(row)
            for index, words in worded:
                value = cells[index]
                if isinstance(value, str):
                    cells[index] = word_of(words, value, lang)
            return tuple(cells)

        return map(translate, rows)


FORMATS: dict[Lang, SheetFormat] = {
    "en": SheetFormat("en", ",", day_first=False, decimal_comma=False, masked_documents=False),
    "es": SheetFormat("es", ";", day_first=True, decimal_comma=True, masked_documents=True),
    "pt": SheetFormat("pt", ";", day_first=True, decimal_comma=True, masked_documents=True),
}


def template_text(
    kind: Kind, lang: Lang = "en", delimiter: str | None = None, *, currency: str = "BRL"
) -> Iterator[str]:
    """The template: its header with units, and one example row the import skips."""
    sheet_format = FORMATS[lang]
    headings = headings_of(kind)
    values = example_values(kind, lang)
    row = tuple(values.get(h.field) for h in headings)
    return csv_text(
        template_header(kind, lang, currency),
        sheet_format.localized(headings, [row]),
        delimiter=delimiter or sheet_format.delimiter,
        # English as the export writes it: decimal commas only when ";" is asked for.
        style=sheet_format.style() if lang != "en" else None,
    )


# --- Reading ------------------------------------------------------------------------

_DAY_FIRST = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


@dataclass(frozen=True)
class FileFormat:
    """How one uploaded file writes dates and decimals, decided once from its header."""

    day_first: bool  # 31/12/2026 (and ISO, which cannot be misread); else ISO only
    decimal_comma: bool
    lang: Lang = "en"  # the language of its headers: whose words a row's reason suggests

    def parse_date(self, text: str) -> date:
        """A date as the file writes it, or ValueProblem naming the form it takes."""
        text = text.strip()
        found = _ISO_DAY.fullmatch(text)
        if found:
            year, month, day = found.groups()
        elif self.day_first and (found := _DAY_FIRST.fullmatch(text)):
            day, month, year = found.groups()
        else:
            raise self.date_problem(text)
        try:
            return date(int(year), int(month), int(day))
        except ValueError:
            raise self.date_problem(text) from None

    def date_problem(self, text: str) -> ValueProblem:
        return ValueProblem(DATE_DAY_FIRST if self.day_first else DATE_ISO, value=text)

    def parse_cents(self, text: str) -> int:
        """An amount as the file writes it, in cents. The file's decimal separator
        decides what a lone separator before three digits is (``1,234`` is 1.234 in a
        decimal-comma file, so a fraction of a cent; 1234 in a technical one); anything
        else reads as ``money.parse_cents`` reads people's amounts."""
        text = text.strip()
        decimal, grouping = (",", ".") if self.decimal_comma else (".", ",")
        lone = text.count(decimal) == 1 and grouping not in text
        try:
            cents = parse_cents(text, allow_negative=True, grouping=not lone)
        except AmountError:
            raise ValueProblem(
                AMOUNT_COMMA if self.decimal_comma else AMOUNT_POINT, value=text
            ) from None
        if cents < 0:
            raise ValueProblem(AMOUNT_NEGATIVE, value=text)
        return cents


def file_format(names: Iterable[str], delimiter: str) -> FileFormat:
    """The format of a file from its header's names and its separator.

    Each name votes for the languages that write it (``Status`` is English and
    Portuguese, ``Email`` all three, so they vote for none); more Spanish or Portuguese
    names than English ones make a day-first, decimal-comma file; as many (or none) of
    each, the separator decides, since only such spreadsheets separate with ``;``.
    """
    local = english = 0
    votes = dict.fromkeys(("es", "pt"), 0)
    for name in names:
        langs = TITLE_LANGUAGES.get(header_key(name)) or TITLE_LANGUAGES.get(
            header_key(_UNIT.sub("", name))
        )
        if not langs or len(langs) == 3:
            continue
        for spoken in ("es", "pt"):
            votes[spoken] += spoken in langs
        if langs == {"en"}:
            english += 1
        elif "en" not in langs:
            local += 1
    is_local = local > english or (local == english and delimiter == ";")
    lang: Lang = ("pt" if votes["pt"] >= votes["es"] else "es") if is_local else "en"
    return FileFormat(day_first=is_local, decimal_comma=is_local, lang=lang)


_UNIT = re.compile(r"\s*\([^()]*\)\s*$")


def money_example(lang: Lang) -> str:
    """``1234,56`` or ``1234.56``: how a file in ``lang`` writes an amount."""
    return "1234,56" if FORMATS[lang].decimal_comma else "1234.56"


def date_example(lang: Lang) -> str:
    return "31/12/2026" if FORMATS[lang].day_first else "2026-12-31"
