"""Transactions (pre-authorizations): reserve, change, cancel, settle, refund."""

from __future__ import annotations

from flask import Response
from sqlalchemy.orm import Session

from connector.access.principals import WRITE_TRANSACTIONS
from connector.api.routes import done_by, dump, json_body, no_content, route
from connector.api.schemas import transactions as s
from connector.context import now
from connector.credit import reservations, settlements

TAG = "Transactions"
TRANSACTIONS = "/accounts/<account_id>/transactions"
TRANSACTION = TRANSACTIONS + "/<transaction_id>"
CREDIT_ERRORS = (409, 422)
RESERVE_HELP = (
    "settle=true (the default) settles the purchase into invoices after the store's "
    "autoSettleBusinessDays unless it is settled or cancelled first; settle=false holds "
    "the credit until it is settled, cancelled or reaches expirationDate. Denials are 422 "
    "(insufficient_credit, installments_not_allowed); a closed account is 409."
)


@route(
    "POST",
    TRANSACTIONS,
    summary="Create a pre-authorization",
    tag=TAG,
    permission=WRITE_TRANSACTIONS,
    body=s.ReserveBody,
    response=s.TransactionOut,
    errors=CREDIT_ERRORS,
    description=RESERVE_HELP,
)
def reserve(session: Session, account_id: str) -> Response:
    b = json_body(s.ReserveBody)
    reservation = reservations.reserve(
        session,
        account_id,
        b["value"],
        installments=b["installments"],
        expires_at=b.get("expirationDate"),
        auto_settle=b["settle"],
        now=now(),
    )
    return dump(s.TransactionOut, reservation)


@route(
    "PUT",
    TRANSACTION,
    summary="Create or update a pre-authorization by id",
    tag=TAG,
    permission=WRITE_TRANSACTIONS,
    body=s.ReserveBody,
    response=s.TransactionOut,
    errors=CREDIT_ERRORS,
    description="Creates the pre-authorization under this id, or changes the value of the "
    "pending one with this id (it may grow up to the store's maxPreAuthorizationGrowthRate). "
    "settle and expirationDate apply when it is created; the number of installments cannot "
    "change (409). A settled or cancelled one cannot change (409). " + RESERVE_HELP,
)
def put_transaction(session: Session, account_id: str, transaction_id: str) -> Response:
    b = json_body(s.ReserveBody)
    reservation, _created = reservations.put_reservation(
        session,
        account_id,
        transaction_id,
        b["value"],
        installments=b["installments"],
        expires_at=b.get("expirationDate"),
        auto_settle=b["settle"],
        now=now(),
    )
    return dump(s.TransactionOut, reservation)


@route(
    "DELETE",
    TRANSACTION,
    summary="Cancel a pre-authorization",
    tag=TAG,
    permission=WRITE_TRANSACTIONS,
    errors=(409,),
    description="Releases the reserved credit; cancelling twice changes nothing. A settled "
    "purchase is refunded instead (409). Answers 200 without a body.",
)
def cancel_transaction(session: Session, account_id: str, transaction_id: str) -> Response:
    reservations.release_reservation(session, transaction_id, account_id=account_id, now=now())
    return no_content()


@route(
    "PUT",
    TRANSACTION + "/settlement",
    summary="Create or update a settlement",
    tag=TAG,
    permission=WRITE_TRANSACTIONS,
    body=s.OptionalValueBody,
    response=s.SettlementOut,
    errors=CREDIT_ERRORS,
    description="Pending: settles value (all of the reservation when omitted) into one "
    "invoice per installment and releases the rest. Already settled: value is the "
    "purchase's new total; lower reduces its open invoices, last installment first, higher "
    "issues invoices for the difference. Repeating the same value changes nothing.",
)
def settle(session: Session, account_id: str, transaction_id: str) -> Response:
    b = json_body(s.OptionalValueBody)
    result = settlements.settle_reservation(
        session,
        transaction_id,
        b.get("value"),
        account_id=account_id,
        done_by=done_by(),
        now=now(),
    )
    body = {
        "id": result.reservation.id,
        "value": result.settled_cents,
        "invoices": [invoice.id for invoice in result.invoices],
    }
    return dump(s.SettlementOut, body)


@route(
    "POST",
    TRANSACTION + "/refunds",
    summary="Refund a settled purchase, partly or totally",
    tag=TAG,
    permission=WRITE_TRANSACTIONS,
    body=s.OptionalValueBody,
    response=s.RefundOut,
    errors=(409,),
    description="Reduces the purchase's open invoices, last installment first; what they "
    "cannot absorb (already paid) returns to the account. Never more than was settled "
    "(409 refund_exceeds_settled). Without value, refunds all that is left.",
)
def refund(session: Session, account_id: str, transaction_id: str) -> Response:
    b = json_body(s.OptionalValueBody)
    result = settlements.refund_reservation(
        session,
        transaction_id,
        b.get("value"),
        account_id=account_id,
        done_by=done_by(),
        now=now(),
    )
    return dump(s.RefundOut, {"value": result.refunded_cents})
