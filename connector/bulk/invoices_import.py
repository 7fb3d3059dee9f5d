"""Invoice import: the invoice export, edited and uploaded again, through ``update_invoice``.

Rows are keyed by the invoice ``Id``. ``Status`` (``Paid`` or ``Cancelled``; ``Opened``
leaves an open invoice as it is; the words of any language), ``Payment link`` and
``Observation`` are read, and, for a row that pays its invoice, ``Paid on`` (as the
file's format writes dates: ``31/12/2026`` or ``2026-12-31``), ``Payment method`` (Pix,
boleto, transfer, other, in the three languages), ``Payment reference`` and ``Amount
received``, each optional as in "Mark as paid"; every other column is
read-only and ignored. A column missing from the file leaves its field
alone; an empty cell in a column that is present clears the link or observation, since
the file says what the invoice should look like. Paying from a file calls the same
service as the API, so the credit comes back exactly as it would there.

The rows of a chunk are compared with their invoices in one read and applied by one
``update_invoices`` call, which refuses a row (a cancelled invoice cannot be paid)
without touching it or the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from connector.bulk.batches import apply_batch, waves
from connector.bulk.csvio import Column, SheetRow, header_key
from connector.bulk.history import RowError
from connector.bulk.report import Outcome, failed, refusal, too_many_cells
from connector.bulk.sheet_formats import (
    METHOD_REASON,
    REQUIRED_INVOICE_ID,
    STATUS_WORDS_REASON,
    FileFormat,
    ValueProblem,
)
from connector.bulk.templates import (
    INVOICE_COLUMNS,
    INVOICE_STATUS_WORDS,
    METHOD_WORDS,
    Words,
    word_of,
    word_reader,
)
from connector.credit.invoices import InvoiceChange, update_invoices
from connector.credit.lookups import invoices_by_id
from connector.credit.models import Invoice
from connector.credit.receipts import Receipt
from connector.errors import Code, ConnectorError, NotFound, fill

_STATUS_OF = word_reader(INVOICE_STATUS_WORDS)
_METHOD_OF = word_reader(METHOD_WORDS)
_FIELD_OF = {
    "status": "status",
    "paymentLink": "payment_link",
    "observation": "observation",
    "paymentDate": "paid_on",
    "paymentMethod": "payment_method",
    "paymentReference": "payment_reference",
    "amountReceived": "amount_received",
}
_DEFAULT_FIELD = {
    "invoice_not_found": "id",
    "invoice_cancelled": "status",
    "invoice_paid": "status",
    "invoice_not_open": "status",
}


def parse_status(text: str) -> str | None:
    """``Opened``, ``Paid`` or ``Cancelled`` from any of their words; None if none fits."""
    return _STATUS_OF.get(header_key(text))


_KEEP: Any = object()  # the file has no such column


@dataclass(frozen=True)
class InvoiceRow:
    sheet: SheetRow
    invoice_id: str
    status: str | None  # None: no change asked
    payment_link: Any  # str | None, or _KEEP
    observation: Any
    receipt: Receipt = field(default_factory=Receipt)  # how it was paid, if it pays it

    @property
    def number(self) -> int:
        return self.sheet.number


def columns_for(_mode: str = "update") -> Sequence[Column]:
    return INVOICE_COLUMNS


class InvoicesImport:
    """Parses and applies invoice rows for one file."""

    mode = "update"

    def __init__(
        self,
        title: Callable[[str], str],
        present: Sequence[str],
        sheet_format: FileFormat | None = None,
    ) -> None:
        self.title = title
        self.present = set(present)
        self.format = sheet_format or FileFormat(day_first=False, decimal_comma=False)
        self.lang = self.format.lang  # whose words the reasons suggest

    def parse(self, row: SheetRow) -> InvoiceRow | Outcome:
        cells = row.cells
        errors: list[RowError] = []
        errors.extend(too_many_cells(row))
        invoice_id = cells.get("id", "")
        if not invoice_id:
            errors.append(
                RowError(row.number, self.title("id"), None, Code.REQUIRED, REQUIRED_INVOICE_ID)
            )
        status = None
        if cells.get("status"):
            status = parse_status(cells["status"])
            if status is None:
                errors.append(
                    RowError(
                        row.number,
                        self.title("status"),
                        cells["status"],
                        Code.INVALID_STATUS,
                        fill(
                            STATUS_WORDS_REASON, self._words(INVOICE_STATUS_WORDS, cells["status"])
                        ),
                    )
                )
        receipt = self._receipt(row, errors)
        if errors:
            return failed(errors)
        return InvoiceRow(
            row,
            invoice_id,
            status,
            (cells.get("payment_link") or None) if "payment_link" in self.present else _KEEP,
            (cells.get("observation") or None) if "observation" in self.present else _KEEP,
            receipt,
        )

    def _receipt(self, row: SheetRow, errors: list[RowError]) -> Receipt:
        """The payment columns of a row, read leniently; what cannot be read is an error."""
        cells = row.cells

        def refuse(field: str, code: Code, reason: str) -> None:
            errors.append(RowError(row.number, self.title(field), cells[field], code, reason))

        paid_on = None
        if cells.get("paid_on"):
            try:
                paid_on = self.format.parse_date(cells["paid_on"])
            except ValueProblem as problem:
                refuse("paid_on", Code.INVALID_DATE, str(problem))
        method = None
        if cells.get("payment_method"):
            method = _METHOD_OF.get(header_key(cells["payment_method"]))
            if method is None:
                reason = fill(METHOD_REASON, self._words(METHOD_WORDS, cells["payment_method"]))
                refuse("payment_method", Code.INVALID_PAYMENT_METHOD, reason)
        received = None
        if cells.get("amount_received"):
            try:
                received = self.format.parse_cents(cells["amount_received"])
            except ValueProblem as problem:
                refuse("amount_received", Code.INVALID_AMOUNT, str(problem))
        return Receipt(paid_on, method, cells.get("payment_reference") or None, received)

    def _words(self, words: Words, value: str) -> dict[str, str]:
        """A reason's values: the cell, and each stored value's word in the file's language."""
        return {"value": value, **{str(v).lower(): word_of(words, v, self.lang) for v in words}}

    def apply(
        self, session: Session, rows: Sequence[InvoiceRow], *, done_by: str, now: datetime
    ) -> list[Outcome]:
        """Apply rows in file order; rows naming an invoice already named run in a later
        wave, so each sees what the rows before it did."""
        outcomes: dict[int, Outcome] = {}
        for wave in waves(rows, lambda row: row.invoice_id):
            outcomes.update(self._apply_wave(session, wave, done_by, now))
        return [outcomes[row.number] for row in rows]

    def _apply_wave(
        self, session: Session, rows: Sequence[InvoiceRow], done_by: str, now: datetime
    ) -> dict[int, Outcome]:
        outcomes: dict[int, Outcome] = {}
        invoices = invoices_by_id(session, [r.invoice_id for r in rows])
        changed_rows: list[InvoiceRow] = []
        changes: list[InvoiceChange] = []
        for row in rows:
            invoice = invoices.get(row.invoice_id)
            if invoice is None:
                error = NotFound(
                    "invoice {invoice} not found",
                    code=Code.INVOICE_NOT_FOUND,
                    invoice=repr(row.invoice_id),
                )
                outcomes[row.number] = self._refused(row, error)
                continue
            asked = self._changes(row, invoice)
            if not asked:
                outcomes[row.number] = Outcome(row.number, "unchanged")
                continue
            changed_rows.append(row)
            changes.append(InvoiceChange(row.invoice_id, receipt=row.receipt, **asked))
        results = apply_batch(
            session,
            changes,
            lambda part: update_invoices(session, part, done_by=done_by, now=now),
        )
        for row, result in zip(changed_rows, results, strict=True):
            outcomes[row.number] = (
                self._refused(row, result)
                if isinstance(result, ConnectorError)
                else Outcome(row.number, "updated")
            )
        return outcomes

    def _changes(self, row: InvoiceRow, invoice: Invoice) -> dict[str, Any]:
        """What the row asks that the invoice does not already have."""
        changes: dict[str, Any] = {}
        if row.status is not None and row.status != invoice.status:
            changes["status"] = row.status
        if row.payment_link is not _KEEP and row.payment_link != invoice.payment_link:
            changes["payment_link"] = row.payment_link
        if row.observation is not _KEEP and row.observation != invoice.observation:
            changes["observation"] = row.observation
        return changes

    def _refused(self, row: InvoiceRow, error: ConnectorError) -> Outcome:
        return refusal(
            row.number,
            error,
            field_of=_FIELD_OF,
            default_field=_DEFAULT_FIELD.get(error.code),
            title=self.title,
            cells=row.sheet.cells,
        )
