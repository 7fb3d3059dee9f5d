"""Invoice import: the invoice export, edited and uploaded again, through ``update_invoice``.

Rows are keyed by the invoice ``Id``. ``Status`` (``Paid`` or ``Cancelled``; ``Opened``
leaves an open invoice as it is), ``Payment link`` and ``Observation`` are read, and, for
a row that pays its invoice, ``Paid on`` (``2026-12-31`` or ``31/12/2026``), ``Payment
method`` (Pix, boleto, transfer, other, in the three languages), ``Payment reference``
and ``Amount received``, each optional as in "Mark as paid"; every other column is
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
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from connector.bulk.batches import apply_batch, waves
from connector.bulk.csvio import Column, SheetRow, header_key
from connector.bulk.history import RowError
from connector.bulk.report import Outcome, failed, refusal, too_many_cells
from connector.bulk.templates import INVOICE_COLUMNS
from connector.credit.invoices import InvoiceChange, update_invoices
from connector.credit.lookups import invoices_by_id
from connector.credit.models import Invoice, InvoiceStatus, PaymentMethod
from connector.credit.receipts import Receipt
from connector.errors import Code, ConnectorError, NotFound
from connector.money import AmountError, parse_cents

# Status words a merchant may write, in the three languages (accents and case ignored).
# The admin shows an open invoice past its due date as overdue: it is still open.
STATUS_WORDS = {
    InvoiceStatus.OPENED: (
        "opened",
        "open",
        "overdue",
        "abierto",
        "aberto",
        "em aberto",
        "vencido",
    ),
    InvoiceStatus.PAID: ("paid", "pagado", "pago", "liquidado", "quitado"),
    InvoiceStatus.CANCELLED: ("cancelled", "canceled", "cancelado", "anulado"),
}
_STATUS_OF = {header_key(word): status for status, words in STATUS_WORDS.items() for word in words}
_FIELD_OF = {
    "status": "status",
    "paymentLink": "payment_link",
    "observation": "observation",
    "paymentDate": "paid_on",
    "paymentMethod": "payment_method",
    "paymentReference": "payment_reference",
    "amountReceived": "amount_received",
}
# How a merchant may write a payment method (accents and case ignored).
METHOD_WORDS = {
    PaymentMethod.PIX: ("pix",),
    PaymentMethod.BOLETO: ("boleto", "boleto bancario"),
    PaymentMethod.TRANSFER: ("transfer", "bank transfer", "transferencia", "ted", "doc"),
    PaymentMethod.OTHER: ("other", "otro", "outro", "outros", "efectivo", "dinheiro", "cash"),
}
_METHOD_OF = {header_key(word): method for method, words in METHOD_WORDS.items() for word in words}
_DEFAULT_FIELD = {
    "invoice_not_found": "id",
    "invoice_cancelled": "status",
    "invoice_paid": "status",
    "invoice_not_open": "status",
}


def parse_date(text: str) -> date | None:
    """``2026-12-31``, or ``31/12/2026`` as spreadsheets in Spanish and Portuguese write
    it (day first); None when it is neither."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    return None


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

    def __init__(self, title: Callable[[str], str], present: Sequence[str]) -> None:
        self.title = title
        self.present = set(present)

    def parse(self, row: SheetRow) -> InvoiceRow | Outcome:
        cells = row.cells
        errors: list[RowError] = []
        errors.extend(too_many_cells(row))
        invoice_id = cells.get("id", "")
        if not invoice_id:
            errors.append(
                RowError(
                    row.number, self.title("id"), None, "required", "the invoice Id is required"
                )
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
                        "the status must be Paid, Cancelled or Opened",
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
            paid_on = parse_date(cells["paid_on"])
            if paid_on is None:
                refuse("paid_on", Code.INVALID_DATE, "a date such as 2026-12-31 or 31/12/2026")
        method = None
        if cells.get("payment_method"):
            method = _METHOD_OF.get(header_key(cells["payment_method"]))
            if method is None:
                refuse(
                    "payment_method", Code.INVALID_PAYMENT_METHOD, "Pix, boleto, transfer or other"
                )
        received = None
        if cells.get("amount_received"):
            try:
                received = parse_cents(cells["amount_received"])
            except AmountError:
                refuse("amount_received", Code.INVALID_AMOUNT, "an amount such as 1500.00")
        return Receipt(paid_on, method, cells.get("payment_reference") or None, received)

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
