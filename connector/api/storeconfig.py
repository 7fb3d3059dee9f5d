"""Store settings, and the purchase conditions the checkout asks for before a payment."""

from __future__ import annotations

from flask import Response, jsonify
from sqlalchemy.orm import Session

from connector.access.principals import READ, WRITE_SETTINGS
from connector.api import schemas as s
from connector.api.routes import done_by, dump, query_args, raw_json_object, route
from connector.credit.conditions import purchase_conditions
from connector.credit.settings import load_store_settings, update_store_settings

TAG = "Store configuration"


@route(
    "GET",
    "/storeconfig",
    summary="Retrieve the store configuration",
    tag=TAG,
    permission=READ,
    response=s.StoreConfigDoc,
)
def get_storeconfig(session: Session) -> Response:
    return jsonify(load_store_settings(session).to_public())


@route(
    "PUT",
    "/storeconfig",
    summary="Create or change the store configuration",
    tag=TAG,
    permission=WRITE_SETTINGS,
    body=s.StoreConfigDoc,
    response=s.StoreConfigDoc,
    description="Every field is optional: those sent are merged into the current settings. "
    "An unknown field or a bad value is a 400 naming it.",
)
def put_storeconfig(session: Session) -> Response:
    changes = raw_json_object()  # the settings service validates every field by name
    updated = update_store_settings(session, changes, done_by=done_by())
    return jsonify(updated.to_public())


@route(
    "GET",
    "/purchase-conditions",
    summary="Purchase conditions of a buyer",
    tag="Checkout",
    permission=READ,
    query=s.PurchaseConditionsQuery,
    response=s.PurchaseConditionsOut,
    errors=(404,),
    description="What the checkout needs before a payment: the open account the buyer "
    "(owner or dependent, by e-mail, else by document) would pay with, its available "
    "credit, the tolerance headroom when the store enables tolerance, and the payment-term "
    "plans. 404 no_account when there is none (unless the store opens accounts "
    "automatically: then accountId is null and the figures are the default credit's).",
)
def get_purchase_conditions(session: Session) -> Response:
    q = query_args(s.PurchaseConditionsQuery)
    conditions = purchase_conditions(
        session,
        email=q.get("email"),
        document=q.get("document"),
        document_type=q.get("documentType"),
    )
    return dump(s.PurchaseConditionsOut, conditions)
