"""Spreadsheets per language: es/pt files in their spreadsheets' format, English in the
technical one, and imports that read every one of them (issue 16, point 6)."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import select

from connector.bulk.export import export_text
from connector.bulk.history import ImportRowError
from connector.bulk.report import localized_reason, report_text
from connector.bulk.sheet_formats import (
    AMOUNT_COMMA,
    DATE_DAY_FIRST,
    DATE_ISO,
    FileFormat,
    ValueProblem,
    file_format,
    template_text,
)
from connector.bulk.templates import AMOUNT_RECEIVED, INVOICE_STATUS, PAID_ON, Lang
from connector.credit.account_search import AccountFilter
from connector.credit.accounts import open_account
from connector.credit.identity import DOCUMENT_WRONG_CHECK_DIGITS
from connector.credit.invoice_search import InvoiceFilter
from connector.credit.invoices import update_invoice
from connector.credit.models import Account, Invoice
from connector.credit.reservations import reserve
from connector.credit.settlements import settle_reservation
from connector.db import Database
from connector.errors import fill
from tests.bulk.conftest import RunImport, WriteFile, counts, ledger_state, row_errors
from tests.factories import NOW

LOCAL = FileFormat(day_first=True, decimal_comma=True, lang="pt")
TECHNICAL = FileFormat(day_first=False, decimal_comma=False)


@pytest.fixture
def store(db: Database) -> list[str]:
    """An account with a 300.00 purchase in three installments (one observation a formula)
    and a second account in debt; the invoices' ids."""
    with db.transaction() as session:
        account = open_account(
            session,
            email="ana@example.com",
            document="52998224725",
            document_type="CPF",
            credit_limit_cents=250_050,
            tolerance_bps=1250,
            company_name="Comércio Exemplo Ltda",
            now=NOW,
        )
        reservation = reserve(
            session,
            account.id,
            30_000,
            installments=3,
            order_id="o-1",
            holder_email="ana@example.com",
            now=NOW,
        )
        ids = [i.id for i in settle_reservation(session, reservation.id, now=NOW).invoices]
        update_invoice(session, ids[0], observation="=1+1", now=NOW)
        open_account(session, email="bia@example.com", credit_limit_cents=100, now=NOW)
    return ids


def export(db: Database, kind: str, lang: str) -> str:
    f = AccountFilter() if kind == "accounts" else InvoiceFilter()
    return "".join(export_text(db, kind, f, lang=lang, now=NOW))  # type: ignore[arg-type]


def table(text: str, delimiter: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


# --- Exports ------------------------------------------------------------------------


def test_the_portuguese_export_is_what_excel_in_pt_br_reads(db: Database, store: list[str]) -> None:
    text = export(db, "invoices", "pt")
    print(text)  # looked at by hand: see the report
    header = text.splitlines()[0]
    assert header.startswith("Id;Id legível;Id da conta;Email;Id do pedido;Comprado por;")
    assert "Valor (R$);Status;Vencido;Criado em;" in header
    rows = table(text, ";")
    first = next(r for r in rows if r["Id"] == store[0])
    assert first["Status"] == "Em aberto" and first["Vencido"] == "Não"
    assert first["Valor (R$)"] == "100,00" and first["Valor devido (R$)"] == "100,00"
    # 12:00 UTC is 09:00 in São Paulo; dates day first.
    assert first["Criado em"] == "02/03/2026 09:00"
    assert first["Vencimento"].count("/") == 2 and "-" not in first["Vencimento"]
    assert first["Observação"] == "'=1+1"  # formulas still neutralised
    assert first["Comprado por"] == "ana@example.com"
    accounts = table(export(db, "accounts", "pt"), ";")
    ana = next(r for r in accounts if r["Email"] == "ana@example.com")
    assert ana["Limite de crédito (R$)"] == "2500,50" and ana["Tolerância (fração ou %)"] == "12,5%"
    assert ana["Status"] == "Aberta" and ana["Tipo de documento"] == "CPF"
    # The CPF as people write it; the company's name under its Portuguese title.
    assert ana["Documento"] == "529.982.247-25"
    assert ana["Razão social"] == "Comércio Exemplo Ltda"
    assert ana["Saldo (R$)"] == "-300,00"  # a debt, still a number
    bia = next(r for r in accounts if r["Email"] == "bia@example.com")
    assert bia["Tipo de documento"] == ""


def test_the_spanish_export_uses_spanish_words(db: Database, store: list[str]) -> None:
    text = export(db, "invoices", "es")
    print(text)
    rows = table(text, ";")
    assert rows[0]["Estado"] == "Abierto" and rows[0]["Vencido"] == "No"
    assert "Importe adeudado (R$)" in rows[0]
    assert rows[0]["Comprado por"] == "ana@example.com"
    accounts = export(db, "accounts", "es")
    print(accounts)
    ana = next(r for r in table(accounts, ";") if r["Email"] == "ana@example.com")
    assert ana["Documento"] == "529.982.247-25" and ana["Razón social"] == "Comércio Exemplo Ltda"


def test_the_english_export_stays_the_technical_format(db: Database, store: list[str]) -> None:
    text = export(db, "invoices", "en")
    header = text.splitlines()[0]
    assert header.startswith("Id,Friendly id,Account id,Email,") and "(R$)" not in header
    first = next(r for r in table(text, ",") if r["Id"] == store[0])
    assert first["Status"] == "Opened" and first["Overdue"] == "No"
    assert first["Value"] == "100.00" and first["Created at"] == "2026-03-02T09:00:00-03:00"
    assert first["Bought by"] == "ana@example.com"
    accounts = table(export(db, "accounts", "en"), ",")
    ana = next(r for r in accounts if r["Email"] == "ana@example.com")
    # The technical format keeps the document as stored.
    assert ana["Document"] == "52998224725" and ana["Company name"] == "Comércio Exemplo Ltda"


# --- Round trips: export, import, same state ----------------------------------------


@pytest.mark.parametrize("lang", ["en", "es", "pt"])
def test_an_export_imports_back_unchanged(
    db: Database, store: list[str], write_file: WriteFile, run_file: RunImport, lang: str
) -> None:
    with db.transaction() as session:
        before = ledger_state(session)
    accounts = run_file(write_file(export(db, "accounts", lang)), "accounts", "update")
    invoices = run_file(write_file(export(db, "invoices", lang)), "invoices", "update")
    assert counts(accounts) == (0, 0, 2, 0) and counts(invoices) == (0, 0, 3, 0)
    with db.transaction() as session:
        assert ledger_state(session) == before


@pytest.mark.parametrize(
    ("lang", "paid", "day", "amount"),
    [("pt", "Pago", "15/03/2026", "100,00"), ("es", "Pagado", "15/03/2026", "100,00")],
)
def test_a_paid_status_written_in_the_files_words_settles_the_invoice(
    db: Database,
    store: list[str],
    write_file: WriteFile,
    run_file: RunImport,
    lang: str,
    paid: str,
    day: str,
    amount: str,
) -> None:
    rows = table(export(db, "invoices", lang), ";")
    header = list(rows[0])
    language = cast(Lang, lang)
    status, paid_on, received = (
        h.titled(language, "BRL") for h in (INVOICE_STATUS, PAID_ON, AMOUNT_RECEIVED)
    )
    assert {status, paid_on, received} <= set(header)
    for row in rows:
        if row["Id"] == store[0]:
            row[status], row[paid_on], row[received] = paid, day, amount
    out = io.StringIO()
    writer = csv.DictWriter(out, header, delimiter=";")
    writer.writeheader()
    writer.writerows(rows)
    job = run_file(write_file(out.getvalue()), "invoices", "update")
    assert counts(job) == (0, 1, 2, 0)
    with db.transaction() as session:
        invoice = session.get(Invoice, store[0])
        assert invoice is not None
        assert (invoice.status, invoice.paid_on, invoice.received_cents) == (
            "Paid",
            date(2026, 3, 15),
            10_000,
        )
    again = table(export(db, "invoices", lang), ";")
    assert next(r for r in again if r["Id"] == store[0])[status] == paid


# --- Reading each form --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "local", "technical"),
    [
        ("31/12/2026", date(2026, 12, 31), None),
        ("1/2/2026", date(2026, 2, 1), None),
        ("2026-12-31", date(2026, 12, 31), date(2026, 12, 31)),
        ("12/31/2026", None, None),  # month first: no such month
        ("31/12/26", None, None),  # a two-digit year
        ("31.12.2026", None, None),
    ],
)
def test_dates_are_read_as_the_file_writes_them(
    text: str, local: date | None, technical: date | None
) -> None:
    cases = ((LOCAL, local, DATE_DAY_FIRST), (TECHNICAL, technical, DATE_ISO))
    for sheet_format, expected, template in cases:
        if expected is None:
            with pytest.raises(ValueProblem) as problem:
                sheet_format.parse_date(text)
            assert problem.value.template == template and problem.value.values == {"value": text}
        else:
            assert sheet_format.parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "local", "technical"),
    [
        ("1234,56", 123_456, 123_456),  # the comma is the only separator a cent could follow
        ("1234.56", 123_456, 123_456),
        ("1.234,56", 123_456, 123_456),  # both separators: the last is the decimal one
        ("1.234", 123_400, None),  # a decimal point before three digits: a fraction of a cent
        ("1,234", None, 123_400),  # a decimal comma before three digits: the same
        ("R$ 1.500,00", 150_000, 150_000),
        ("abc", None, None),
    ],
)
def test_amounts_are_read_with_the_files_decimal_separator(
    text: str, local: int | None, technical: int | None
) -> None:
    for sheet_format, expected in ((LOCAL, local), (TECHNICAL, technical)):
        if expected is None:
            with pytest.raises(ValueProblem):
                sheet_format.parse_cents(text)
        else:
            assert sheet_format.parse_cents(text) == expected, (sheet_format, text)
    with pytest.raises(ValueProblem) as negative:
        LOCAL.parse_cents("-5,00")
    assert "negative" in str(negative.value)


@pytest.mark.parametrize(
    ("names", "delimiter", "expected"),
    [
        (["Id", "Status", "Paid on", "Amount received"], ",", (False, "en")),
        (["Id", "Status", "Data de pagamento", "Valor recebido (R$)"], ",", (True, "pt")),
        (["Id", "Estado", "Fecha de pago"], ",", (True, "es")),
        (["Id", "Status"], ";", (True, "pt")),  # nothing says; the separator does
        (["Id", "Status"], ",", (False, "en")),
        # English names outvote the separator; such a file's "1500,00" still reads as
        # 1500.00 (a lone comma before two digits can only be a decimal one).
        (["Email", "Document", "Credit limit"], ";", (False, "en")),
    ],
)
def test_a_files_format_is_chosen_from_its_header_then_its_separator(
    names: list[str], delimiter: str, expected: tuple[bool, str]
) -> None:
    found = file_format(names, delimiter)
    assert (found.day_first, found.lang) == expected and found.decimal_comma == expected[0]


def test_a_portuguese_file_imports_with_bom_comma_or_semicolon(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    header = "Email;Documento;Tipo de documento;Limite de crédito (R$);Tolerância (fração ou %)\n"
    semicolons = write_file("\ufeff" + header + "a@example.com;1;Outro;1.234;12,5%\n")
    assert counts(run_file(semicolons)) == (1, 0, 0, 0)
    # Google Sheets saves a Portuguese sheet with commas, its decimals quoted.
    commas = write_file(header.replace(";", ",") + 'b@example.com,,,"1234,56",10%\n')
    assert counts(run_file(commas)) == (1, 0, 0, 0)
    with db.transaction() as session:
        accounts = {a.email: a for a in session.scalars(select(Account))}
    assert accounts["a@example.com"].credit_limit_cents == 123_400  # 1.234: grouped thousands
    assert accounts["a@example.com"].document_type == "Other"  # "Outro"
    assert accounts["b@example.com"].credit_limit_cents == 123_456


# --- Row errors ---------------------------------------------------------------------


def test_a_bad_value_is_refused_naming_the_column_and_the_form_in_the_files_format(
    db: Database, store: list[str], write_file: WriteFile, run_file: RunImport
) -> None:
    text = (
        "Id;Status;Data de pagamento;Forma de pagamento;Valor recebido (R$)\n"
        f"{store[0]};Pago;12/31/2026;Pix;100,00\n"
        f"{store[1]};Pagou;;Cheque;1,234\n"
    )
    job = run_file(write_file(text), "invoices", "update")
    assert counts(job) == (0, 0, 0, 2)
    assert row_errors(db, job.id) == [
        (2, "Data de pagamento", "12/31/2026", "invalid_date"),
        (3, "Status", "Pagou", "invalid_status"),
        (3, "Forma de pagamento", "Cheque", "invalid_payment_method"),
        (3, "Valor recebido (R$)", "1,234", "invalid_amount"),
    ]
    with db.transaction() as session:
        reasons = [
            e.reason
            for e in session.scalars(
                select(ImportRowError)
                .where(ImportRowError.job_id == job.id)
                .order_by(ImportRowError.row_number, ImportRowError.position)
            )
        ]
    assert reasons[0] == fill(DATE_DAY_FIRST, {"value": "12/31/2026"})
    # The words suggested are the file's (Portuguese) ones.
    assert reasons[1] == "Pagou is not a status: write Pago, Cancelado or Em aberto"
    assert reasons[2] == (
        "Cheque is not a payment method: write Pix, Boleto, Transferência or Outro"
    )
    assert reasons[3] == fill(AMOUNT_COMMA, {"value": "1,234"})


def test_a_document_is_refused_by_its_check_digits_in_any_language(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    text = (
        "Email;Documento;Tipo de documento;Limite de crédito (R$);Razão social\n"
        "ana@example.com;529.982.247-24;CPF;100,00;Comércio Ana\n"  # a wrong check digit
        "bia@example.com;52998224725;Passaporte;100,00;\n"
        "caio@example.com;529.982.247-25;CPF;100,00;Comércio Caio\n"
    )
    job = run_file(write_file(text))
    assert counts(job) == (1, 0, 0, 2)
    assert row_errors(db, job.id) == [
        (2, "Documento", "529.982.247-24", "invalid_document"),
        (3, "Tipo de documento", "Passaporte", "invalid_document_type"),
    ]
    with db.transaction() as session:
        reasons = list(
            session.scalars(
                select(ImportRowError.reason)
                .where(ImportRowError.job_id == job.id)
                .order_by(ImportRowError.row_number)
            )
        )
        caio = session.scalar(select(Account).where(Account.email == "caio@example.com"))
        assert caio is not None and caio.company_name == "Comércio Caio"
    # Stored in English; the check digits' reason is identity's, so it is shown localized.
    assert reasons[0] == fill(DOCUMENT_WRONG_CHECK_DIGITS, {"kind": "CPF"})
    catalog = {DOCUMENT_WRONG_CHECK_DIGITS: "não é um {kind} válido: dígitos errados"}

    def translate(template: str, **values: str) -> str:
        return fill(catalog.get(template, template), values)

    assert localized_reason(reasons[0], translate) == "não é um CPF válido: dígitos errados"
    # Every type the service knows, "Other" in the file's (Portuguese) words.
    assert reasons[1].startswith("Passaporte is not a document type: write one of CPF, CNPJ, ")
    assert reasons[1].endswith(", UY-RUT, Outro")


def test_stored_reasons_are_shown_in_the_merchants_language() -> None:
    catalog = {DATE_DAY_FIRST: "{value} não é uma data: escreva dd/mm/aaaa", "Row": "Linha"}

    def translate(template: str, **values: str) -> str:
        return fill(catalog.get(template, template), values)

    stored = fill(DATE_DAY_FIRST, {"value": "12/31/2026"})
    assert localized_reason(stored, translate) == "12/31/2026 não é uma data: escreva dd/mm/aaaa"
    assert localized_reason("some service's refusal", translate) == "some service's refusal"
    error = ImportRowError(row_number=2, column_name="Data", value="x", code="c", reason=stored)
    report = "".join(report_text([error], delimiter=";", translate=translate))
    assert report.splitlines() == [
        "Linha;Column;Value;Code;Reason",
        "2;Data;x;c;12/31/2026 não é uma data: escreva dd/mm/aaaa",
    ]


# --- Templates ----------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "es", "pt"])
@pytest.mark.parametrize("kind", ["accounts", "invoices"])
def test_a_template_names_its_units_and_its_example_row_is_skipped(
    db: Database,
    store: list[str],
    write_file: WriteFile,
    run_file: RunImport,
    kind: str,
    lang: str,
) -> None:
    text = "".join(template_text(kind, lang))  # type: ignore[arg-type]
    print(text)
    header, example = text.splitlines()
    assert "(R$)" in header
    if kind == "accounts":
        company = {"en": "Company name", "es": "Razón social", "pt": "Razão social"}[lang]
        assert header.endswith(company) and example.endswith(("Ltd.", "S.A.", "Ltda."))
    if lang != "en":
        assert ";" in header and ("31/12/2026" in example or kind == "accounts")
        assert "1500,00" in example or "1234,56" in example
    mode = "create" if kind == "accounts" else "update"
    job = run_file(write_file(text), kind, mode)
    assert job.status == "completed" and counts(job) == (0, 0, 0, 0)
    # A row written under the example is imported; the example is still skipped.
    if kind == "accounts":
        sep = ";" if lang != "en" else ","
        row = sep.join(["new@example.com", "", "", "100", "0"])
        job = run_file(write_file(text + row + "\n"), kind, mode)
        assert counts(job) == (1, 0, 0, 0)


def test_the_exported_bytes_open_in_excel(db: Database, store: list[str], tmp_path: Path) -> None:
    from connector.bulk.export import encoded

    data = b"".join(encoded(iter([export(db, "invoices", "pt")])))
    assert data.startswith(b"\xef\xbb\xbfId;") and "Não".encode() in data
