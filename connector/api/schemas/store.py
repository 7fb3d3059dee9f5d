"""The purchase conditions' shapes (the store configuration's are in ``api.storeconfig``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from connector.api.schemas.common import Query
from connector.wire import Cents


class PurchaseConditionsQuery(Query):
    email = fields.String(validate=validate.Length(max=254))
    document = fields.String(validate=validate.Length(max=64))
    documentType = fields.String(validate=validate.Length(max=16))


class PlanOut(Schema):
    installments = fields.Function(
        lambda plan: len(plan), required=True, metadata={"type": "integer"}
    )
    dueDays = fields.Function(
        lambda plan: list(plan),
        required=True,
        metadata={"type": "array", "items": {"type": "integer"}},
    )


class PurchaseConditionsOut(Schema):
    accountId = fields.String(
        attribute="account_id",
        allow_none=True,
        required=True,
        metadata={"description": "null: the store opens an account at the first purchase"},
    )
    currency = fields.String(required=True)
    creditLimit = Cents(attribute="credit_limit_cents", required=True)
    availableCredit = Cents(attribute="available_cents", required=True)
    toleranceEnabled = fields.Boolean(attribute="tolerance_enabled", required=True)
    toleranceHeadroom = Cents(
        attribute="tolerance_headroom_cents",
        metadata={"description": "how far above availableCredit a purchase may go (0 when off)"},
    )
    maxPurchaseValue = Cents(
        attribute="spending_power_cents",
        required=True,
        metadata={"description": "the largest purchase approved now (0 while denied)"},
    )
    deniedBecause = fields.String(
        attribute="denied_because",
        allow_none=True,
        required=True,
        metadata={
            "description": "why every purchase would be denied now (overdue_invoices: the "
            "store blocks accounts with invoices overdue longer than its grace), else null"
        },
    )
    paymentTerms = fields.List(fields.Nested(PlanOut), attribute="payment_terms", required=True)
