"""Store settings in the public API's words, and the purchase conditions the checkout asks
for before a payment.

The settings' camelCase names and units (amounts in currency units, rates as fractions,
also read as percentages such as ``"10%"``, reminders nested in
``notificationsSettings``) are this module's alone: ``StoreConfigDoc`` reads them into the
fields of ``credit.settings.StoreSettings`` and writes them back, and the service's
refusals, named by field, are renamed to the public names here.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from marshmallow import fields, post_load, pre_dump, pre_load
from sqlalchemy.orm import Session

from connector.access.principals import READ, WRITE_SETTINGS
from connector.api.routes import done_by, dump, json_body, query_args, route
from connector.api.schemas.store import PurchaseConditionsOut, PurchaseConditionsQuery
from connector.bulk.filters import Strict
from connector.context import now
from connector.credit.conditions import purchase_conditions
from connector.credit.settings import (
    Reminder,
    StoreSettings,
    load_store_settings,
    update_store_settings,
)
from connector.errors import ValidationError
from connector.wire import Cents, Fraction, Rate, WholeNumber

TAG = "Store configuration"
_NULL_CLEARS = ("holidayCalendar", "pixKey")


class ReminderDoc(Strict):
    days = WholeNumber(required=True)
    timeOfDay = fields.String(
        required=True,
        attribute="time_of_day",
        metadata={"description": "HH:MM (HH:MM:00 accepted)"},
    )

    @post_load
    def _reminder(self, data: dict[str, Any], **_kwargs: Any) -> Reminder:
        return Reminder(**data)


class NotificationsDoc(Strict):
    """The e-mails to holders: reminders before and after due dates, at a time of day in
    the store's zone; one when invoices are issued and one when an invoice is paid."""

    daysPrior = fields.List(fields.Nested(ReminderDoc), attribute="reminders_before")
    daysAfter = fields.List(fields.Nested(ReminderDoc), attribute="reminders_after")
    invoiceIssued = fields.Boolean(attribute="notify_invoice_issued")
    invoicePaid = fields.Boolean(attribute="notify_invoice_paid")
    notifyDependents = fields.Boolean(
        attribute="notify_dependents",
        metadata={"description": "also mail the dependent who made the purchase"},
    )
    language = fields.String(
        metadata={"description": "pt, es or en: of the mails to holders who chose none"}
    )


class StoreConfigDoc(Strict):
    """The store settings; on PUT every field is optional and merged into the current ones.

    ``null`` keeps a field as it is, but for ``holidayCalendar`` and ``pixKey``, where it
    clears them (then only weekends are skipped; invoices offer no Pix code).
    """

    currency = fields.String()
    toleranceEnabled = fields.Boolean(attribute="tolerance_enabled")
    automaticCheckingAccountCreationEnabled = fields.Boolean(
        attribute="automatic_account_creation_enabled"
    )
    defaultCreditValue = Cents(attribute="default_credit_cents")
    postponementEnabled = fields.Boolean(attribute="postponement_enabled")
    invoicePostponementLimit = WholeNumber(attribute="invoice_postponement_limit")
    maxPostponementDays = WholeNumber(attribute="max_postponement_days")
    maxPreAuthorizationGrowthRate = Rate(
        attribute="max_preauthorization_growth_bps",
        maximum_bps=100_000,
        description="how much a reserved purchase may grow when it is settled: 0.1 or "
        '"10%", up to "1000%" (from 100% up, write the %)',
    )
    myCreditsEnabled = fields.Boolean(attribute="my_credits_enabled")
    dailyInterestRate = Fraction(
        attribute="daily_interest_rate",
        description="simple interest a day on an overdue invoice's value, from the first day "
        'after its due date (0.00033 or "0.033%")',
    )
    taxRate = Fraction(
        attribute="tax_rate",
        description='a one-time late fee on an overdue invoice\'s value (0.02 or "2%")',
    )
    notificationsSettings = fields.Nested(NotificationsDoc, attribute="notifications")
    paymentTerms = fields.List(fields.List(WholeNumber()), attribute="payment_terms")
    autoSettleBusinessDays = WholeNumber(attribute="auto_settle_business_days")
    holidayCalendar = fields.String(allow_none=True, attribute="holiday_calendar")
    paymentInstructions = fields.String(attribute="payment_instructions")
    overLimitReviewEnabled = fields.Boolean(attribute="over_limit_review_enabled")
    timeZone = fields.String(
        attribute="time_zone",
        metadata={
            "description": "IANA time zone of every date the service shows or decides "
            "(due dates, overdue, reminders, statement periods); default America/Sao_Paulo"
        },
    )
    dueDatesOnBusinessDays = fields.Boolean(
        attribute="due_dates_on_business_days",
        metadata={
            "description": "a due date on a weekend or a holiday of holidayCalendar moves "
            "to the next business day (default true)"
        },
    )

    blockPurchasesWhenOverdue = fields.Boolean(
        attribute="block_purchases_when_overdue",
        metadata={
            "description": "deny purchases (code overdue_invoices) of an account with an "
            "invoice overdue longer than overdueGraceDays"
        },
    )
    overdueGraceDays = WholeNumber(attribute="overdue_grace_days")
    pixKey = fields.String(
        allow_none=True,
        attribute="pix_key",
        metadata={"description": "every open invoice offers a Pix code paying this key"},
    )
    pixMerchantName = fields.String(attribute="pix_merchant_name")
    pixMerchantCity = fields.String(attribute="pix_merchant_city")
    storeName = fields.String(
        attribute="store_name",
        metadata={"description": "the store's name, on My Credits and in the mails"},
    )
    storeLogoUrl = fields.String(
        attribute="store_logo_url",
        metadata={
            "description": "an https address of the store's logo, shown with the store's "
            "name as its text on My Credits and in the mails; empty: none"
        },
    )

    @pre_load
    def _null_keeps(self, data: Any, **_kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items() if v is not None or k in _NULL_CLEARS}

    @post_load
    def _flat(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        data.update(data.pop("notifications", {}))
        return data

    @pre_dump
    def _nested(self, settings: StoreSettings, **_kwargs: Any) -> dict[str, Any]:
        document = {name: getattr(settings, name) for name in settings.__dataclass_fields__}
        document["notifications"] = {
            "reminders_before": settings.reminders_before,
            "reminders_after": settings.reminders_after,
            "notify_invoice_issued": settings.notify_invoice_issued,
            "notify_invoice_paid": settings.notify_invoice_paid,
            "notify_dependents": settings.notify_dependents,
            "language": settings.language,
        }
        return document


def public_names() -> dict[str, str]:
    """Each settings field's public name (nested ones with their parent's)."""
    names: dict[str, str] = {}
    for name, field in StoreConfigDoc().fields.items():
        if isinstance(field, fields.Nested):
            for inner_name, inner in NotificationsDoc().fields.items():
                names[inner.attribute or inner_name] = f"{name}.{inner_name}"
        else:
            names[field.attribute or name] = name
    return names


def _public(settings: StoreSettings) -> Response:
    return jsonify(StoreConfigDoc().dump(settings))


def _renamed(error: ValidationError) -> ValidationError:
    """The service's refusal with each field under its public name."""
    names = public_names()
    renamed = {names.get(k, k): v for k, v in error.field_reasons().items()}
    return ValidationError(error.template, code=error.code, fields=renamed, **error.values)


@route(
    "GET",
    "/storeconfig",
    summary="Retrieve the store configuration",
    tag=TAG,
    permission=READ,
    response=StoreConfigDoc,
)
def get_storeconfig(session: Session) -> Response:
    return _public(load_store_settings(session))


@route(
    "PUT",
    "/storeconfig",
    summary="Create or change the store configuration",
    tag=TAG,
    permission=WRITE_SETTINGS,
    body=StoreConfigDoc,
    response=StoreConfigDoc,
    description="Every field is optional: those sent are merged into the current settings "
    "(null keeps a field, but clears holidayCalendar and pixKey). An unknown field or a "
    "bad value is "
    "a 400 naming it.",
)
def put_storeconfig(session: Session) -> Response:
    changes = json_body(StoreConfigDoc)
    try:
        updated = update_store_settings(session, changes, done_by=done_by())
    except ValidationError as error:
        raise _renamed(error) from None
    return _public(updated)


@route(
    "GET",
    "/purchase-conditions",
    summary="Purchase conditions of a buyer",
    tag="Checkout",
    permission=READ,
    query=PurchaseConditionsQuery,
    response=PurchaseConditionsOut,
    errors=(404,),
    description="What the checkout needs before a payment: the open account the buyer "
    "(owner or dependent, by e-mail, else by document) would pay with, its available "
    "credit, the tolerance headroom when the store enables tolerance, and the payment-term "
    "plans. 404 no_account when there is none (unless the store opens accounts "
    "automatically: then accountId is null and the figures are the default credit's).",
)
def get_purchase_conditions(session: Session) -> Response:
    q = query_args(PurchaseConditionsQuery)
    conditions = purchase_conditions(
        session,
        email=q.get("email"),
        document=q.get("document"),
        document_type=q.get("documentType"),
        now=now(),
    )
    return dump(PurchaseConditionsOut, conditions)
