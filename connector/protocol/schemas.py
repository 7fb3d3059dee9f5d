"""The gateway's messages, read tolerantly: unknown fields ignored, numbers as strings,
decimal commas, both spellings of the gateway's misspelled fields. Money stays exact."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load, pre_load
from marshmallow import ValidationError as SchemaError

from connector.credit.identity import canonical_email
from connector.errors import Code, ValidationError
from connector.money import AmountError, parse_cents
from connector.payments.authorization import PaymentRequest
from connector.wire import UNSTORABLE, unstorable

MAX_ID = 200
TESTSUITE_HEADER = "X-VTEX-API-Is-TestSuite"


def is_test_suite(header_value: str | None) -> bool:
    """Homologation traffic says so in a header: decided by card number, no credit used."""
    return (header_value or "").strip().lower() == "true"


class Text(fields.Field):  # type: ignore[type-arg]
    """A string that may arrive as a number; blank means absent."""

    def __init__(self, *, max_length: int = MAX_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise SchemaError("must be text")
        text = str(value).strip()
        if len(text) > self.max_length:
            raise SchemaError(f"at most {self.max_length} characters")
        if unstorable(text):
            raise SchemaError(UNSTORABLE)
        return text or None


class Cents(fields.Field):  # type: ignore[type-arg]
    """An amount in currency units (``31.9``, ``"29,90"``) read as integer cents."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            cents = parse_cents(value, grouping=False)  # the gateway never groups thousands
        except AmountError as exc:
            raise SchemaError(str(exc)) from None
        return cents


class Count(fields.Field):  # type: ignore[type-arg]
    """A small whole number that may arrive as a string; null or blank is 0."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if value is None or value == "":
            return 0
        try:
            number = Decimal(str(value).strip()) if not isinstance(value, bool) else None
        except ArithmeticError:
            number = None
        if number is None or number != number.to_integral_value() or not 0 <= number <= 1000:
            raise SchemaError("must be a whole number from 0 to 1000")
        return int(number)


class _Tolerant(Schema):
    class Meta:
        unknown = EXCLUDE


class BuyerSchema(_Tolerant):
    email = Text(
        max_length=254,
        load_default=None,
        allow_none=True,
        metadata={
            "description": "finds the credit account: its owner's or a dependent's e-mail, "
            "in any case"
        },
    )
    document = Text(
        max_length=64,
        load_default=None,
        allow_none=True,
        metadata={"description": "finds the account when no e-mail matches (CPF, CNPJ, ...)"},
    )
    documentType = Text(max_length=16, load_default=None, allow_none=True)


class MiniCartSchema(_Tolerant):
    buyer = fields.Nested(
        BuyerSchema,
        load_default=None,
        allow_none=True,
        metadata={"description": "the buyer; its e-mail or document finds the credit account"},
    )


class CardSchema(_Tolerant):
    number = Text(
        max_length=32,
        load_default=None,
        allow_none=True,
        metadata={"description": "read only in test-suite traffic: the card decides"},
    )


class CreatePaymentSchema(_Tolerant):
    paymentId = Text(required=True, metadata={"description": "the idempotency key"})
    value = Cents(required=True, metadata={"description": "what the buyer pays, interest included"})
    currency = Text(
        max_length=8, required=True, metadata={"description": "ISO 4217; the store's currency"}
    )
    installments = Count(
        load_default=0,
        allow_none=True,
        metadata={"description": "chooses the payment-term plan (0 or null: 1)"},
    )
    # Each installment with the interest the buyer agreed to (``value`` is their sum).
    installmentsValue = Cents(
        load_default=None,
        allow_none=True,
        metadata={"description": "each installment as the buyer agreed to it"},
    )
    transactionId = Text(load_default=None, allow_none=True)
    orderId = Text(load_default=None, allow_none=True)
    reference = Text(load_default=None, allow_none=True)
    paymentMethod = Text(
        max_length=64,
        load_default=None,
        allow_none=True,
        metadata={"description": "a name from the manifest: Promissories in live traffic"},
    )
    callbackUrl = Text(
        max_length=4096,
        load_default=None,
        allow_none=True,
        metadata={"description": "where an undefined payment's final answer is POSTed"},
    )
    card = fields.Nested(CardSchema, load_default=None, allow_none=True)
    miniCart = fields.Nested(
        MiniCartSchema,
        load_default=None,
        allow_none=True,
        metadata={"description": "read for its buyer (also spelled minicart)"},
    )

    @pre_load
    def _misspellings(self, data: Any, **_kwargs: Any) -> Any:
        # The gateway spells some fields two ways; read either.
        if isinstance(data, Mapping) and "minicart" in data and "miniCart" not in data:
            data = {**data, "miniCart": data["minicart"]}
        return data

    @post_load
    def _check(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if not data.get("paymentId"):
            raise SchemaError("required", field_name="paymentId")
        if data["value"] <= 0:
            raise SchemaError("must be greater than zero", field_name="value")
        return data


class OperationSchema(_Tolerant):
    """Settlements, cancellations and refunds: only what the operation needs is required."""

    requestId = Text(
        required=True,
        metadata={"description": "the idempotency key: a repeat replays the stored answer"},
    )
    paymentId = Text(
        load_default=None, allow_none=True, metadata={"description": "the path's, if sent"}
    )
    value = Cents(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "settle: the new settled total (default: all reserved); refund: "
            "what to give back (default: all settled and not refunded); cancel: not read"
        },
    )
    settleId = Text(
        load_default=None,
        allow_none=True,
        metadata={"description": "sent with refunds; not needed, a refund takes what was settled"},
    )

    @post_load
    def _check(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if not data.get("requestId"):
            raise SchemaError("required", field_name="requestId")
        if data.get("value") is not None and data["value"] <= 0:
            raise SchemaError("must be greater than zero", field_name="value")
        return data


def load(schema: Schema, body: Any) -> dict[str, Any]:
    """Validate a decoded JSON body, naming each bad field in a ValidationError."""
    if not isinstance(body, Mapping):
        raise ValidationError("the body must be a JSON object", code=Code.MALFORMED_REQUEST)
    try:
        result: dict[str, Any] = schema.load(body)
    except SchemaError as exc:
        messages = exc.messages_dict
        fields_ = {name: _flatten(reason) for name, reason in messages.items()}
        detail = "; ".join(f"{k}: {v}" for k, v in fields_.items())
        raise ValidationError("invalid request: {detail}", fields=fields_, detail=detail) from None
    return result


def payment_request(data: dict[str, Any], *, test_suite: bool) -> PaymentRequest:
    """A loaded create's ``PaymentRequest``: the buyer from ``miniCart.buyer``."""
    buyer = (data.get("miniCart") or {}).get("buyer") or {}
    email = buyer.get("email")
    return PaymentRequest(
        payment_id=data["paymentId"],
        value_cents=data["value"],
        currency=(data["currency"] or "").upper(),
        installments=data.get("installments") or 1,
        installment_value_cents=data.get("installmentsValue"),
        buyer_email=canonical_email(email) if email else None,
        buyer_document=buyer.get("document"),
        buyer_document_type=buyer.get("documentType"),
        gateway_transaction_id=data.get("transactionId"),
        order_id=data.get("orderId"),
        reference=data.get("reference"),
        payment_method=data.get("paymentMethod"),
        callback_url=data.get("callbackUrl"),
        card_number=(data.get("card") or {}).get("number"),
        test_suite=test_suite,
    )


def _flatten(reason: Any) -> str:
    if isinstance(reason, list):
        return " ".join(_flatten(r) for r in reason)
    if isinstance(reason, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in reason.items())
    return str(reason)
