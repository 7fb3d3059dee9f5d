"""The invoices' shapes: search, read, change, postpone."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from connector.api.schemas.common import Body, Paging, Query
from connector.bulk.filters import AllInvoiceFilters, InvoiceFilters
from connector.credit.models import PaymentMethod
from connector.money import cents_to_decimal
from connector.wire import Cents, DueDate, InvoiceStatusField, Moment, WholeNumber


class InvoiceQuery(Paging, InvoiceFilters):
    """One account's invoices, a page at a time."""


class GlobalInvoiceQuery(Paging, AllInvoiceFilters):
    """Every account's invoices, a page at a time."""


class InvoiceOut(Schema):
    """An invoice (a ``QuotedInvoice``: the invoice and what it asks for on a day)."""

    id = fields.String(required=True)
    friendlyId = fields.String(attribute="friendly_id", required=True)
    status = fields.String(required=True, metadata={"enum": ["Opened", "Paid", "Cancelled"]})
    value = Cents(attribute="value_cents", required=True)
    creditValue = fields.Function(
        lambda i: cents_to_decimal(i.original_value_cents - i.value_cents),
        required=True,
        metadata={
            "type": "number",
            "description": "how much refunds and order changes took off the invoice",
        },
    )
    accountId = fields.String(attribute="account_id", required=True)
    creditAccountId = fields.String(attribute="account_id", required=True, dump_only=True)
    transactionId = fields.String(attribute="reservation_id", required=True)
    orderId = fields.String(
        attribute="order_id",
        required=True,
        metadata={"description": "the order's id; a pre-authorization of the API: its own id"},
    )
    installment = fields.Integer(required=True)
    numberOfInstallments = fields.Integer(attribute="number_of_installments", required=True)
    createdAt = Moment(attribute="created_at", required=True)
    updatedAt = Moment(attribute="updated_at", required=True)
    resolvedAt = Moment(attribute="resolved_at", allow_none=True)
    originalDueDate = DueDate(attribute="original_due_date", required=True)
    dueDate = DueDate(
        attribute="due_date",
        required=True,
        metadata={"description": "the store's date, as its first moment in its time zone"},
    )
    paymentLink = fields.String(attribute="payment_link", allow_none=True)
    observation = fields.String(allow_none=True)
    amountDue = Cents(
        attribute="quote.amount_due_cents",
        required=True,
        metadata={"description": "value + lateFee + interest on asOf (0 once paid or cancelled)"},
    )
    lateFee = Cents(
        attribute="quote.charges.late_fee_cents",
        required=True,
        metadata={"description": "the store's taxRate on the value, once overdue"},
    )
    interest = Cents(
        attribute="quote.charges.interest_cents",
        required=True,
        metadata={"description": "dailyInterestRate on the value for each day overdue"},
    )
    daysOverdue = fields.Integer(attribute="quote.charges.days_overdue", required=True)
    asOf = fields.Date(
        attribute="quote.as_of",
        required=True,
        metadata={"description": "the store's date the amounts are quoted for"},
    )
    paidOn = fields.Date(attribute="paid_on", allow_none=True)
    paymentMethod = fields.String(
        attribute="payment_method",
        allow_none=True,
        metadata={"enum": [*(m.value for m in PaymentMethod), None]},  # null: not said
    )
    paymentReference = fields.String(attribute="payment_reference", allow_none=True)
    amountReceived = Cents(
        attribute="received_cents",
        allow_none=True,
        metadata={"description": "what came in: the value and the charges taken with it"},
    )


class InvoiceQuoteQuery(Query):
    asOf = fields.Date(
        metadata={"description": "the store's date to quote the amount due for (default: today)"}
    )


class InvoiceSummaryOut(Schema):
    total = Cents(attribute="opened_cents", required=True, metadata={"description": "open"})
    count = fields.Integer(required=True)
    totalPaid = Cents(attribute="paid_cents", required=True)
    totalCancelled = Cents(attribute="cancelled_cents", required=True)


class InvoicePage(Schema):
    data = fields.List(fields.Nested(InvoiceOut), required=True)
    summary = fields.Nested(InvoiceSummaryOut, required=True)


class PaymentBody(Body):
    """How an invoice was paid; every field is optional."""

    paymentDate = fields.Date(
        metadata={"description": "the store's date it was paid (default: today)"}
    )
    paymentMethod = fields.String(
        validate=validate.OneOf([m.value for m in PaymentMethod]),
        metadata={"enum": [m.value for m in PaymentMethod]},
    )
    paymentReference = fields.String(validate=validate.Length(max=200))
    amountReceived = Cents(
        metadata={
            "description": "at least the value, at most the amount due on paymentDate "
            "(default: that amount due); less than the charges waives the rest"
        }
    )


class ChangeInvoiceBody(PaymentBody):
    """The payment's fields apply when ``status`` is Paid."""

    status = InvoiceStatusField()
    observation = fields.String(allow_none=True)
    paymentLink = fields.String(allow_none=True)


class PostponeBody(Body):
    dueDays = WholeNumber(required=True, validate=validate.Range(min=1, max=3650))
