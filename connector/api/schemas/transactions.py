"""The transactions' (pre-authorizations') shapes: reserve, settle, refund."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_dump, validate

from connector.api.schemas.common import Body
from connector.wire import Cents, Moment, WholeNumber


class OptionalValueBody(Body):
    value = Cents(metadata={"description": "default: all of it"})


class ReserveBody(Body):
    value = Cents(required=True)
    settle = fields.Boolean(
        load_default=True,
        metadata={"description": "false: a hold that is never settled automatically"},
    )
    installments = WholeNumber(load_default=1, validate=validate.Range(min=0, max=48))
    expirationDate = Moment(metadata={"description": "when the hold is released if unsettled"})


class TransactionOut(Schema):
    id = fields.String(required=True)
    value = Cents(attribute="value_cents", required=True)
    installments = fields.Integer(required=True)
    expirationDate = Moment(attribute="expires_at")

    @post_dump
    def _omit_no_expiration(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if data.get("expirationDate") is None:
            data.pop("expirationDate", None)
        return data


class SettlementOut(Schema):
    id = fields.String(required=True)
    value = Cents(required=True, metadata={"description": "the purchase's settled total"})
    invoices = fields.List(
        fields.String(), required=True, metadata={"description": "invoices this call issued"}
    )


class RefundOut(Schema):
    value = Cents(required=True, metadata={"description": "the amount this call refunded"})
