"""Accounts: search, open, read, update, close; limit, tolerance, statements, holders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response
from sqlalchemy.orm import Session

from connector.api import schemas as s
from connector.api.fields import decimal_text
from connector.api.routes import done_by, dump, json_body, query_args, route
from connector.app import get_db
from connector.auth import READ, WRITE_ACCOUNTS
from connector.credit import accounts as service
from connector.credit.models import ACCOUNT_OPEN, Account
from connector.credit.queries import (
    AccountFilter,
    account_select,
    account_statement,
    count_rows,
    get_account,
)
from connector.credit.settings import StoreSettings, load_store_settings
from connector.credit.statements import adjust_balance
from connector.mycredits_links import mint_link

TAG = "Accounts"
ACCOUNT = "/accounts/<account_id>"


def _view(account: Account, settings: StoreSettings) -> s.AccountView:
    return s.AccountView(account, service.figures(account, settings))


def _dump_account(session: Session, account: Account) -> Response:
    return dump(s.AccountOut, _view(account, load_store_settings(session)))


@route(
    "GET",
    "/accounts",
    summary="Search accounts",
    tag=TAG,
    permission=READ,
    query=s.AccountQuery,
    response=s.AccountPage,
    description="Open accounts by default (status=Closed lists closed ones), oldest first.",
)
def search_accounts() -> Response:
    q = query_args(s.AccountQuery)
    f = AccountFilter(
        email=q.get("email"),
        document=service.normalize_document(q["document"]) if q.get("document") else None,
        statuses=((q.get("status") or ACCOUNT_OPEN).capitalize(),),
        op=q["op"].lower(),
    )
    page = s.page_of(q)
    with get_db().transaction() as session:
        query = account_select(f, direction="asc")
        rows = list(session.scalars(query.offset(page.offset).limit(page.limit)))
        count = count_rows(session, query)
        settings = load_store_settings(session)
        body = {"data": [_view(a, settings) for a in rows], "summary": {"count": count}}
        return dump(s.AccountPage, body)


@route(
    "POST",
    "/accounts",
    summary="Open an account",
    tag=TAG,
    permission=WRITE_ACCOUNTS,
    body=s.OpenAccountBody,
    response=s.AccountOut,
    errors=(409,),
    description="Without an id, the account's id is {document}_{documentType}. "
    "An account (or an e-mail holder) that already exists is a 409.",
)
def open_account() -> Response:
    b = json_body(s.OpenAccountBody)
    with get_db().transaction() as session:
        account = service.open_account(
            session,
            email=b["email"],
            credit_limit_cents=b["creditLimit"],
            tolerance_bps=b["tolerance"],
            document=b.get("document"),
            document_type=b.get("documentType"),
            account_id=b.get("id"),
            done_by=done_by(),
        )
        return _dump_account(session, account)


@route(
    "GET",
    ACCOUNT,
    summary="Retrieve an account",
    tag=TAG,
    permission=READ,
    response=s.AccountOut,
)
def get_account_view(account_id: str) -> Response:
    with get_db().transaction() as session:
        return _dump_account(session, get_account(session, account_id))


@route(
    "PUT",
    ACCOUNT,
    summary="Update an account",
    tag=TAG,
    permission=WRITE_ACCOUNTS,
    body=s.UpdateAccountBody,
    response=s.AccountOut,
    errors=(409,),
    description="Only the fields sent change. A closed account cannot change (409).",
)
def update_account(account_id: str) -> Response:
    b = json_body(s.UpdateAccountBody)
    changes: dict[str, Any] = {}  # document fields change only when sent
    if "document" in b:
        changes["document"] = b["document"]
    if "documentType" in b:
        changes["document_type"] = b["documentType"]
    with get_db().transaction() as session:
        account = service.update_account(
            session,
            account_id,
            email=b.get("email"),
            credit_limit_cents=b.get("creditLimit"),
            tolerance_bps=b.get("tolerance"),
            done_by=done_by(),
            **changes,
        )
        return _dump_account(session, account)


@route(
    "DELETE",
    ACCOUNT,
    summary="Close an account",
    tag=TAG,
    permission=WRITE_ACCOUNTS,
    query=s.CloseQuery,
    body=s.CloseAccountBody,
    response=s.AccountOut,
    errors=(409,),
    description="Refused (409) while the account has open invoices or reservations, "
    "unless force=true. Its invoices and statements are kept.",
)
def close_account(account_id: str) -> Response:
    q = query_args(s.CloseQuery)
    json_body(s.CloseAccountBody)  # checked for unknown fields, otherwise not used
    with get_db().transaction() as session:
        account = service.close_account(session, account_id, force=q["force"], done_by=done_by())
        return _dump_account(session, account)


@route(
    "PUT",
    ACCOUNT + "/creditlimit",
    summary="Change the credit limit",
    tag=TAG,
    permission=WRITE_ACCOUNTS,
    body=s.ValueBody,
    response=s.AccountOut,
    errors=(409,),
)
def change_credit_limit(account_id: str) -> Response:
    b = json_body(s.ValueBody)
    with get_db().transaction() as session:
        account = service.change_credit_limit(session, account_id, b["value"], done_by=done_by())
        return _dump_account(session, account)


@route(
    "PUT",
    ACCOUNT + "/tolerance",
    summary="Change the tolerance",
    tag=TAG,
    permission=WRITE_ACCOUNTS,
    body=s.ToleranceBody,
    response=s.AccountOut,
    errors=(409,),
)
def change_tolerance(account_id: str) -> Response:
    b = json_body(s.ToleranceBody)
    with get_db().transaction() as session:
        account = service.change_tolerance(session, account_id, b["value"], done_by=done_by())
        return _dump_account(session, account)


@route(
    "GET",
    ACCOUNT + "/statements",
    summary="Account statements",
    tag=TAG,
    permission=READ,
    query=s.StatementQuery,
    response=s.StatementOut,
    description="The entries of the period [dateFrom, dateTo], oldest first (default: from "
    "the opening to now; a bare dateTo date includes that day). previousBalance is the "
    "balance before dateFrom, intervalBalance the change within the period, "
    "currentBalance the balance now; balances leave out Credit entries, which move the "
    "limit. A period with more than 10,000 entries is refused (400), never cut short.",
)
def statements(account_id: str) -> Response:
    q = query_args(s.StatementQuery)
    with get_db().transaction() as session:
        result = account_statement(session, account_id, q.get("dateFrom"), q.get("dateTo"))
        return dump(s.StatementOut, result)


@route(
    "PUT",
    ACCOUNT + "/statements/<statement_id>",
    summary="Adjust the balance (manual statement)",
    tag=TAG,
    permission=WRITE_ACCOUNTS,
    body=s.AdjustmentBody,
    response=s.AdjustmentOut,
    errors=(409,),
    description="The statement id is the idempotency key: repeating the same adjustment "
    "changes nothing; the same id with another value is a 409.",
)
def adjust(account_id: str, statement_id: str) -> Response:
    b = json_body(s.AdjustmentBody)
    with get_db().transaction() as session:
        entry = adjust_balance(
            session,
            account_id,
            b["value"],
            entry_id=statement_id,
            description=b.get("description"),
            done_by=done_by(),
        )
        return dump(s.AdjustmentOut, {"id": entry.id, "value": decimal_text(entry.value_cents)})


@route(
    "GET",
    ACCOUNT + "/holders",
    summary="List the holders",
    tag=TAG,
    permission=READ,
    response=s.HolderPage,
    description="The owner (level 1) and the dependents (level 2) who spend from the account.",
)
def list_holders(account_id: str) -> Response:
    with get_db().transaction() as session:
        holders = service.list_holders(session, account_id)
        return dump(s.HolderPage, {"data": holders, "summary": {"count": len(holders)}})


@route(
    "POST",
    ACCOUNT + "/holders",
    summary="Add a holder",
    tag=TAG,
    permission=WRITE_ACCOUNTS,
    body=s.HolderBody,
    response=s.HolderOut,
    errors=(409,),
    description="An e-mail holds at most one open account (409 otherwise).",
)
def add_holder(account_id: str) -> Response:
    b = json_body(s.HolderBody)
    with get_db().transaction() as session:
        holder = service.add_holder(session, account_id, b["claims"]["email"])
        return dump(s.HolderOut, holder)


@route(
    "DELETE",
    ACCOUNT + "/holders/<holder_id>",
    summary="Remove a holder",
    tag=TAG,
    permission=WRITE_ACCOUNTS,
    response=s.IdOut,
    errors=(409,),
    description="The owner cannot be removed (409).",
)
def remove_holder(account_id: str, holder_id: str) -> Response:
    with get_db().transaction() as session:
        holder = service.remove_holder(session, account_id, holder_id)
        return dump(s.IdOut, holder)


@route(
    "POST",
    ACCOUNT + "/mycredits-link",
    summary="Mint a My Credits link",
    tag=TAG,
    permission=WRITE_ACCOUNTS,
    body=s.MyCreditsLinkBody,
    response=s.MyCreditsLinkOut,
    errors=(404, 409),
    description="A signed link to the account's My Credits page, valid for expiresIn "
    "seconds (default 24 hours, at most 30 days). Refused (409 my_credits_disabled) when "
    "the store has My Credits off, and (409) for a closed account.",
)
def mycredits_link(account_id: str) -> Response:
    b = json_body(s.MyCreditsLinkBody)
    with get_db().transaction() as session:
        link = mint_link(session, account_id, ttl=timedelta(seconds=b["expiresIn"]))
        return dump(s.MyCreditsLinkOut, link.to_public())
