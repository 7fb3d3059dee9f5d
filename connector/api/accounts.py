"""Accounts: search, open, read, update, close; limit, tolerance, statements, holders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, url_for
from sqlalchemy.orm import Session

from connector.access.customer_links import mint_token
from connector.access.principals import READ, WRITE_ACCOUNTS
from connector.api.routes import done_by, dump, json_body, query_args, route
from connector.api.schemas import accounts as s
from connector.api.schemas.common import IdOut, page_of
from connector.context import current, now, public_base_url
from connector.credit import account_changes, accounts, holders
from connector.credit.account_search import AccountFilter, account_select, count_rows, get_account
from connector.credit.identity import normalize_document
from connector.credit.models import Account
from connector.credit.settings import StoreSettings, load_store_settings
from connector.credit.statements import account_statement, adjust_balance
from connector.wire import decimal_text

TAG = "Accounts"
ACCOUNT = "/accounts/<account_id>"


def _view(account: Account, settings: StoreSettings) -> s.AccountView:
    return s.AccountView(account, accounts.figures(account, settings))


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
def search_accounts(session: Session) -> Response:
    q = query_args(s.AccountQuery)
    f = AccountFilter(
        email=q.get("email"),
        document=normalize_document(q["document"]) if q.get("document") else None,
        company_name=q.get("companyName"),
        statuses=(s.ACCOUNT_STATUS_WORDS[(q.get("status") or "open").lower()],),
        op=q["op"].lower(),
    )
    page = page_of(q)
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
def open_account(session: Session) -> Response:
    b = json_body(s.OpenAccountBody)
    account = accounts.open_account(
        session,
        email=b["email"],
        credit_limit_cents=b["creditLimit"],
        tolerance_bps=b["tolerance"],
        document=b.get("document"),
        document_type=b.get("documentType"),
        account_id=b.get("id"),
        company_name=b.get("companyName"),
        done_by=done_by(),
        now=now(),
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
def get_account_view(session: Session, account_id: str) -> Response:
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
def update_account(session: Session, account_id: str) -> Response:
    b = json_body(s.UpdateAccountBody)
    changes: dict[str, Any] = {}  # document fields change only when sent
    if "document" in b:
        changes["document"] = b["document"]
    if "documentType" in b:
        changes["document_type"] = b["documentType"]
    if "companyName" in b:
        changes["company_name"] = b["companyName"]
    account = account_changes.update_account(
        session,
        account_id,
        email=b.get("email"),
        credit_limit_cents=b.get("creditLimit"),
        tolerance_bps=b.get("tolerance"),
        done_by=done_by(),
        now=now(),
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
def close_account(session: Session, account_id: str) -> Response:
    q = query_args(s.CloseQuery)
    json_body(s.CloseAccountBody)  # checked for unknown fields, otherwise not used
    account = accounts.close_account(
        session, account_id, force=q["force"], done_by=done_by(), now=now()
    )
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
def change_credit_limit(session: Session, account_id: str) -> Response:
    b = json_body(s.ValueBody)
    account = account_changes.change_credit_limit(
        session, account_id, b["value"], done_by=done_by(), now=now()
    )
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
def change_tolerance(session: Session, account_id: str) -> Response:
    b = json_body(s.ToleranceBody)
    account = account_changes.change_tolerance(
        session, account_id, b["value"], done_by=done_by(), now=now()
    )
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
    "the opening to now; bare dates are the store's days, and dateTo's is included). "
    "previousBalance is the balance before dateFrom, intervalBalance the change within the period, "
    "currentBalance the balance now; balances leave out Credit entries, which move the "
    "limit. A period with more than 10,000 entries is refused (400), never cut short.",
)
def statements(session: Session, account_id: str) -> Response:
    q = query_args(s.StatementQuery)
    settings = load_store_settings(session)
    start, end = q.get("dateFrom"), q.get("dateTo")
    result = account_statement(
        session,
        account_id,
        None if start is None else settings.first_moment(start),
        None if end is None else settings.last_moment(end),
    )
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
def adjust(session: Session, account_id: str, statement_id: str) -> Response:
    b = json_body(s.AdjustmentBody)
    entry = adjust_balance(
        session,
        account_id,
        b["value"],
        entry_id=statement_id,
        description=b.get("description"),
        done_by=done_by(),
        now=now(),
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
def list_holders(session: Session, account_id: str) -> Response:
    listed = holders.list_holders(session, account_id)
    return dump(s.HolderPage, {"data": listed, "summary": {"count": len(listed)}})


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
def add_holder(session: Session, account_id: str) -> Response:
    b = json_body(s.HolderBody)
    holder = holders.add_holder(session, account_id, b["claims"]["email"], now=now())
    return dump(s.HolderOut, holder)


@route(
    "DELETE",
    ACCOUNT + "/holders/<holder_id>",
    summary="Remove a holder",
    tag=TAG,
    permission=WRITE_ACCOUNTS,
    response=IdOut,
    errors=(409,),
    description="The owner cannot be removed (409).",
)
def remove_holder(session: Session, account_id: str, holder_id: str) -> Response:
    holder = holders.remove_holder(session, account_id, holder_id, now=now())
    return dump(IdOut, holder)


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
def mycredits_link(session: Session, account_id: str) -> Response:
    b = json_body(s.MyCreditsLinkBody)
    token, expires_at = mint_token(
        session,
        account_id,
        secret=current().secret_key,
        ttl=timedelta(seconds=b["expiresIn"]),
        now=now(),
    )
    url = public_base_url() + url_for("mycredits.open_link", token=token)
    return dump(s.MyCreditsLinkOut, {"url": url, "expiresAt": expires_at})
