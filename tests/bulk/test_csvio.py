"""Reading real spreadsheets' CSV files, and writing ones they open safely."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connector.bulk.csvio import (
    CsvWriter,
    FileProblem,
    Percent,
    check_not_a_workbook,
    csv_text,
    escape_text,
    format_cell,
    header_key,
    open_sheet,
    read_facts,
    unescape_text,
)
from connector.bulk.templates import ACCOUNT_COLUMNS, ACCOUNT_UPDATE_COLUMNS, INVOICE_COLUMNS

SPANISH = "Correo electrónico;Documento;Tipo de documento;Límite de crédito;Tasa de tolerancia\n"


def sheet_of(data: bytes, columns=ACCOUNT_COLUMNS):  # type: ignore[no-untyped-def]
    facts = read_facts(io.BytesIO(data))
    return facts, open_sheet(io.BytesIO(data), facts.encoding, columns)


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("cp1252", "cp1252"),
        ("utf-16", "utf-16"),
    ],
)
def test_encodings_are_detected(encoding: str, detected: str) -> None:
    text = crlf(SPANISH + "josé@ex.com;1;CPF;1.234,56;5%\n")
    facts, sheet = sheet_of(text.encode(encoding))
    assert facts.encoding == detected
    [row] = sheet.rows()
    assert row.cells["email"] == "josé@ex.com"
    assert sheet.titles["credit_limit"] == "Límite de crédito"


def test_latin1_bytes_that_windows_1252_leaves_undefined_still_read() -> None:
    data = crlf("Email,Document,Credit limit\nx@ex.com,1\x81,10\n").encode("latin-1")
    facts, sheet = sheet_of(data)
    assert facts.encoding == "latin-1"
    assert [r.cells["document"] for r in sheet.rows()] == ["1\x81"]


@pytest.mark.parametrize(
    ("header", "line", "delimiter"),
    [
        ("Email,Document,Credit limit", 'a@ex.com,"1,5",10', ","),
        ("Email;Document;Credit limit", "a@ex.com;1,5;10", ";"),
        ("Email\tDocument\tCredit limit", "a@ex.com\t1,5\t10", "\t"),
    ],
)
def test_the_delimiter_is_detected_from_the_header(header: str, line: str, delimiter: str) -> None:
    _facts, sheet = sheet_of(crlf(f"{header}\n{line}\n").encode())
    assert sheet.delimiter == delimiter
    [row] = sheet.rows()
    assert row.cells == {"email": "a@ex.com", "document": "1,5", "credit_limit": "10"}


def test_excel_sep_hint_line_is_honoured() -> None:
    _facts, sheet = sheet_of(b"sep=;\r\nEmail;Credit limit\r\na@ex.com;10,5\r\n")
    assert sheet.delimiter == ";" and sheet.header_row == 2
    [row] = sheet.rows()
    assert (row.number, row.cells["credit_limit"]) == (3, "10,5")


@pytest.mark.parametrize(
    "name",
    ["Credit limit", " CREDIT LIMIT ", "credit_limit", "Límite de crédito", "Limite de Crédito"],
)
def test_header_names_ignore_case_accents_and_spaces(name: str) -> None:
    _facts, sheet = sheet_of(f"Email,{name}\na@ex.com,10\n".encode())
    assert sheet.titles["credit_limit"] == name.strip()
    assert header_key(name) in ("creditlimit", "limitedecredito")


def test_blank_lines_are_skipped_but_counted() -> None:
    data = crlf("\nEmail,Credit limit\na@ex.com,1\n\n,\nb@ex.com,2\n\n").encode()
    _facts, sheet = sheet_of(data)
    assert sheet.header_row == 2
    assert [(r.number, r.cells["email"]) for r in sheet.rows()] == [
        (3, "a@ex.com"),
        (6, "b@ex.com"),
    ]


def test_quoted_cells_keep_delimiters_and_line_breaks() -> None:
    data = b'Id,Observation\r\nA-01,"one, two\r\nthree"\r\nA-02,x\r\n'
    _facts, sheet = sheet_of(data, INVOICE_COLUMNS)
    rows = list(sheet.rows())
    assert [r.cells["observation"] for r in rows] == ["one, two\r\nthree", "x"]
    assert [r.number for r in rows] == [2, 3]  # a spreadsheet shows one row per record


def test_cells_beyond_the_header_are_kept_for_the_report() -> None:
    _facts, sheet = sheet_of(b"Email,Credit limit\r\na@ex.com,1,234.56\r\nb@ex.com,5,,\r\n")
    rows = list(sheet.rows())
    assert rows[0].extra == ("234.56",)
    assert rows[1].extra == ()  # empty trailing cells are what spreadsheets write


def test_unknown_columns_are_ignored_and_listed() -> None:
    _facts, sheet = sheet_of(b"Email,Credit limit,Notes,,Status\r\na@ex.com,1,x,,Open\r\n")
    assert sheet.ignored == ["Notes", "Status"]


def test_missing_required_columns_are_a_file_problem() -> None:
    with pytest.raises(FileProblem) as problem:
        sheet_of(b"Mail,Limit2\r\na@ex.com,1\r\n")
    assert problem.value.code == "missing_column"
    assert "Email, Credit limit" in problem.value.message
    # Update mode needs no particular column; a key per row is checked row by row.
    sheet_of(b"Document,Credit limit\r\n1,1\r\n", ACCOUNT_UPDATE_COLUMNS)


def test_a_column_named_twice_is_a_file_problem() -> None:
    with pytest.raises(FileProblem) as problem:
        sheet_of("Email,Credit limit,Límite\r\na,1,2\r\n".encode())
    assert problem.value.code == "duplicate_column"


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b";;;\r\n"])
def test_a_file_without_header_is_a_file_problem(data: bytes) -> None:
    with pytest.raises(FileProblem) as problem:
        sheet_of(data)
    assert problem.value.code == "empty_file"


@pytest.mark.parametrize("head", [b"PK\x03\x04rest", b"\xd0\xcf\x11\xe0rest"])
def test_workbooks_are_refused_with_a_hint(head: bytes) -> None:
    with pytest.raises(FileProblem, match="save it as CSV"):
        check_not_a_workbook(head)


def test_facts_count_lines_and_digest() -> None:
    facts = read_facts(io.BytesIO(b"a\r\nb\r\nc"))
    assert (facts.size, facts.lines) == (7, 3)
    assert facts.sha256 == read_facts(io.BytesIO(b"a\r\nb\r\nc")).sha256


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("'=x", "''=x"),  # a user's own apostrophe survives the round trip
        ("'plain", "'plain"),
        ("'", "'"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_formula_cells_are_escaped_and_read_back(text: str, escaped: str) -> None:
    assert escape_text(text) == escaped
    assert unescape_text(escaped) == text


def test_numbers_are_written_plain_and_text_escaped() -> None:
    writer = CsvWriter(",")
    moment = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    writer.row([Decimal("-12.34"), -5, "-5", "=1+1", moment, True, None])
    assert writer.take() == "-12.34,-5,'-5,'=1+1,2026-03-02T12:00:00Z,Yes,\r\n"
    semicolon = CsvWriter(";")
    semicolon.row([Decimal("1234.50"), Decimal("-0.05"), "a;b"])
    assert semicolon.take() == '1234,50;-0,05;"a;b"\r\n'


def test_csv_text_comes_in_pieces() -> None:
    pieces = list(csv_text(["A"], ([str(i)] for i in range(5000)), piece=1000))
    assert len(pieces) > 10
    assert "".join(pieces).count("\r\n") == 5001


@pytest.mark.parametrize(
    ("fraction", "point", "comma"),
    [
        (Decimal("0.1"), "10%", "10%"),
        (Decimal("0.125"), "12.5%", "12,5%"),
        (Decimal("0.0001"), "0.01%", "0,01%"),
        (Decimal(0), "0%", "0%"),
    ],
)
def test_a_rate_is_written_as_a_percentage_with_its_sign(
    fraction: Decimal, point: str, comma: str
) -> None:
    assert format_cell(Percent(fraction), decimal_comma=False) == point
    assert format_cell(Percent(fraction), decimal_comma=True) == comma
