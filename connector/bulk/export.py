"""Exports of accounts and of (filtered) invoices as CSV, streamed with constant memory.

The rows come from the credit package's searches (the filters the API and the admin use),
read in one read-only snapshot in batches (``yield_per``; on PostgreSQL a server-side
cursor), and written out a piece at a time. Text cells are
escaped against formulas; amounts are plain numbers (``-12.34``, or ``-12,34`` in a
semicolon file), the tolerance a percentage with its sign (``12.5%``, ``12,5%``).

In English (``lang="en"``, the default) the export is the technical format integrations
read: ISO dates, moments with their offset, the API's words. In Spanish and Portuguese it
is the spreadsheet's: headers (with units) and words of the language, ``31/12/2026``,
``31/12/2026 14:05`` in the store's time zone, decimal commas, ``;``, documents masked as
people write them (``123.456.789-09``; the import reads both) (``sheet_formats``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Literal

from sqlalchemy.orm import Session

from connector.bulk.csvio import Cell, Percent, csv_text
from connector.bulk.sheet_formats import FORMATS
from connector.bulk.templates import (
    ACCOUNT_EXPORT_HEADINGS,
    INVOICE_EXPORT_HEADINGS,
    Heading,
    Lang,
    export_header,
)
from connector.clock import utcnow
from connector.credit import rules
from connector.credit.account_search import AccountFilter, account_select
from connector.credit.charges import quote_invoice
from connector.credit.identity import masked_document
from connector.credit.invoice_search import InvoiceFilter, invoice_select
from connector.credit.models import Account, Invoice
from connector.credit.settings import StoreSettings, load_store_settings
from connector.db import Database
from connector.errors import ValidationError
from connector.money import bps_to_decimal, cents_to_decimal

YIELD_ROWS = 2000
DELIMITER_NAMES = {"comma": ",", ",": ",", "semicolon": ";", ";": ";", "tab": "\t"}


def parse_delimiter(value: str | None) -> str:
    if not value:
        return ","
    if value.strip().lower() not in DELIMITER_NAMES:
        raise ValidationError("unknown delimiter", fields={"delimiter": "comma, semicolon or tab"})
    return DELIMITER_NAMES[value.strip().lower()]


# --- Rows ---------------------------------------------------------------------------


def account_rows(
    session: Session, f: AccountFilter, *, masked_documents: bool = False
) -> Iterator[tuple[Cell, ...]]:
    """The account export's rows; documents as stored, or as people write them
    (``123.456.789-09``) with ``masked_documents`` (both import back: masks are ignored)."""
    query = account_select(f).with_only_columns(
        Account.email,
        Account.document,
        Account.document_type,
        Account.credit_limit_cents,
        Account.tolerance_bps,
        Account.company_name,
        Account.id,
        Account.status,
        Account.balance_cents,
        Account.reserved_cents,
        Account.created_at,
        Account.updated_at,
    )
    for row in session.execute(query, execution_options={"yield_per": YIELD_ROWS}):
        (
            email,
            document,
            kind,
            limit,
            tolerance,
            company_name,
            account_id,
            status,
            balance,
            reserved,
            created,
            updated,
        ) = row
        yield (
            email,
            masked_document(document, kind) if masked_documents else document,
            kind,
            cents_to_decimal(limit),
            Percent(bps_to_decimal(tolerance)),
            company_name,
            account_id,
            status,
            cents_to_decimal(balance),
            cents_to_decimal(reserved),
            cents_to_decimal(rules.available_credit(limit, balance, reserved)),
            created,
            updated,
        )


def invoice_rows(
    session: Session, f: InvoiceFilter, settings: StoreSettings, today: date
) -> Iterator[tuple[Cell, ...]]:
    """The invoice export's rows; ``Overdue`` and ``Amount due`` as of the store's
    ``today``, the charges of a paid invoice as they were received."""
    query = (
        invoice_select(f, today)
        .join(Account, Account.id == Invoice.account_id)
        .with_only_columns(
            Invoice.id,
            Invoice.friendly_id,
            Invoice.account_id,
            Account.email,
            Invoice.order_id,
            Invoice.bought_by,
            Invoice.reservation_id,
            Invoice.installment,
            Invoice.number_of_installments,
            Invoice.value_cents,
            Invoice.status,
            Invoice.created_at,
            Invoice.original_due_date,
            Invoice.due_date,
            Invoice.resolved_at,
            Invoice.payment_link,
            Invoice.observation,
            Invoice.paid_on,
            Invoice.payment_method,
            Invoice.payment_reference,
            Invoice.received_cents,
            Invoice.late_fee_cents,
            Invoice.interest_cents,
        )
    )
    for row in session.execute(query, execution_options={"yield_per": YIELD_ROWS}):
        quote = quote_invoice(row, settings, today)
        charges = quote.charges
        yield (
            row.id,
            row.friendly_id,
            row.account_id,
            row.email,
            row.order_id,
            row.bought_by,
            row.reservation_id,
            row.installment,
            row.number_of_installments,
            cents_to_decimal(row.value_cents),
            row.status,
            rules.is_overdue(row.status, row.due_date, today),
            row.created_at,
            row.original_due_date,
            row.due_date,
            row.resolved_at,
            row.payment_link,
            row.observation,
            cents_to_decimal(quote.amount_due_cents),
            cents_to_decimal(charges.late_fee_cents),
            cents_to_decimal(charges.interest_cents),
            row.paid_on,
            row.payment_method,
            row.payment_reference,
            None if row.received_cents is None else cents_to_decimal(row.received_cents),
        )


ExportKind = Literal["accounts", "invoices"]


def export_rows(
    session: Session,
    kind: ExportKind,
    f: AccountFilter | InvoiceFilter,
    settings: StoreSettings,
    today: date,
    *,
    masked_documents: bool = False,
) -> tuple[tuple[Heading, ...], Iterator[tuple[Cell, ...]]]:
    """The columns and the rows of an export, as of the store's date ``today``."""
    if kind == "accounts":
        assert isinstance(f, AccountFilter)
        return ACCOUNT_EXPORT_HEADINGS, account_rows(session, f, masked_documents=masked_documents)
    assert isinstance(f, InvoiceFilter)
    return INVOICE_EXPORT_HEADINGS, invoice_rows(session, f, settings, today)


def export_text(
    db: Database,
    kind: ExportKind,
    f: AccountFilter | InvoiceFilter,
    *,
    delimiter: str | None = None,
    lang: Lang = "en",
    now: datetime | None = None,
    on_row: Callable[[], None] | None = None,
) -> Iterator[str]:
    """The export as pieces of CSV text, read from one snapshot while it is consumed.

    Dates are the store's; moments are written in its time zone (in English with their
    UTC offset). ``delimiter`` defaults to the language's; documents are masked where the
    language's format says so (Spanish and Portuguese), raw in the English one.
    """
    now = now or utcnow()
    sheet_format = FORMATS[lang]
    delimiter = delimiter or sheet_format.delimiter
    with db.transaction(read_only=True) as session:
        settings = load_store_settings(session)
        zone = settings.zone()
        headings, rows = export_rows(
            session,
            kind,
            f,
            settings,
            settings.today(now),
            masked_documents=sheet_format.masked_documents,
        )
        if on_row is not None:
            rows = _counted(rows, on_row)
        # English keeps the technical format, with decimal commas only if ";" is asked.
        style = sheet_format.style(zone) if lang != "en" else None
        yield from csv_text(
            export_header(headings, lang, settings.currency),
            sheet_format.localized(headings, rows),
            delimiter=delimiter,
            zone=zone,
            style=style,
        )


def _counted(
    rows: Iterator[tuple[Cell, ...]], on_row: Callable[[], None]
) -> Iterator[tuple[Cell, ...]]:
    for row in rows:
        on_row()
        yield row


def encoded(pieces: Iterator[str], *, bom: bool = True) -> Iterator[bytes]:
    """UTF-8 bytes; the BOM makes spreadsheets read accents right."""
    if bom:
        yield b"\xef\xbb\xbf"
    for piece in pieces:
        if piece:
            yield piece.encode("utf-8")
