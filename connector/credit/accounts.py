"""Accounts and their holders: open, update, close; limits, tolerance, dependents."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, func, insert, select
from sqlalchemy.orm import Session

from connector.credit import rules
from connector.credit.ledger import (
    ensure_open,
    in_slices,
    lock_account,
    lock_accounts,
    lock_accounts_where,
    post_entry,
    post_opening_credits,
)
from connector.credit.models import (
    ACCOUNT_CLOSED,
    ACCOUNT_OPEN,
    DEPENDENT_LEVEL,
    INVOICE_OPENED,
    ORIGIN_CREDIT,
    OWNER_LEVEL,
    PENDING,
    Account,
    Holder,
    Invoice,
    Reservation,
)
from connector.credit.reservations import void_pending
from connector.credit.settings import StoreSettings
from connector.errors import Conflict, ConnectorError, NotFound, ValidationError, only
from connector.ids import new_id, utcnow

DOCUMENT_TYPES = {"cpf": "CPF", "cnpj": "CNPJ", "other": "Other"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9_.@+-]{1,120}$")
_DOCUMENT_NOISE = re.compile(r"[\s./-]")


def normalize_email(email: object, field: str = "email") -> str:
    """E-mails are compared in lower case, without surrounding spaces."""
    if not isinstance(email, str) or len(email) > 254 or not _EMAIL.match(email.strip()):
        raise ValidationError("invalid e-mail address", fields={field: "not an e-mail address"})
    return email.strip().lower()


def normalize_document(document: object) -> str | None:
    """Documents are compared without spaces, dots, dashes and slashes (CPF/CNPJ masks)."""
    if document is None or (isinstance(document, str) and not document.strip()):
        return None
    if not isinstance(document, str | int):
        raise ValidationError("invalid document", fields={"document": "must be text"})
    cleaned = _DOCUMENT_NOISE.sub("", str(document)).upper()
    if not cleaned or len(cleaned) > 64 or not cleaned.isalnum():
        raise ValidationError("invalid document", fields={"document": "letters and digits only"})
    return cleaned


def normalize_document_type(document_type: object, document: str | None) -> str | None:
    """``CPF``, ``CNPJ`` or ``Other`` in any case; ``Other`` when a document has no type."""
    if document_type is None or document_type == "":
        return "Other" if document is not None else None
    if not isinstance(document_type, str) or document_type.strip().lower() not in DOCUMENT_TYPES:
        raise ValidationError(
            "invalid document type", fields={"documentType": "one of CPF, CNPJ, Other"}
        )
    return DOCUMENT_TYPES[document_type.strip().lower()]


def _check_limit(credit_limit_cents: int) -> None:
    if credit_limit_cents < 0:
        raise ValidationError("negative credit limit", fields={"creditLimit": "must be >= 0"})


def _check_tolerance(tolerance_bps: int) -> None:
    if not 0 <= tolerance_bps <= 10_000:
        raise ValidationError("bad tolerance", fields={"tolerance": "a fraction from 0 to 1"})


def _taken_email_error(email: str, account_id: str, field: str = "email") -> Conflict:
    return Conflict(
        f"{email} already holds account {account_id}",
        code="holder_exists",
        fields={field: "already a holder of an open account"},
    )


def _taken_document_error(account_id: str) -> Conflict:
    return Conflict(
        f"an open account ({account_id}) already has this document",
        code="account_exists",
        fields={"document": "already used by an open account"},
    )


def _ensure_email_free(session: Session, email: str, *, field: str = "email") -> None:
    taken = held_emails(session, [email])
    if email in taken:
        raise _taken_email_error(email, taken[email], field)


def held_emails(session: Session, emails: Iterable[str]) -> dict[str, str]:
    """Which of these (normalized) e-mails are active holders, and of which account."""
    held: dict[str, str] = {}
    for part in in_slices(emails):
        rows = session.execute(
            select(Holder.email, Holder.account_id).where(
                Holder.email.in_(part), Holder.removed_at.is_(None)
            )
        )
        held.update({email: account_id for email, account_id in rows})
    return held


def open_documents(session: Session, documents: Iterable[str]) -> dict[tuple[str, str | None], str]:
    """The open accounts that have one of these (normalized) documents, by (document, type)."""
    found: dict[tuple[str, str | None], str] = {}
    for part in in_slices(documents):
        rows = session.execute(
            select(Account.document, Account.document_type, Account.id).where(
                Account.document.in_(part),
                Account.status == ACCOUNT_OPEN,
            )
        )
        for document, kind, account_id in rows:
            if document is not None:
                found[(document, kind)] = account_id
    return found


def _account_statuses(session: Session, account_ids: Iterable[str]) -> dict[str, str]:
    statuses: dict[str, str] = {}
    for part in in_slices(account_ids):
        rows = session.execute(select(Account.id, Account.status).where(Account.id.in_(part)))
        statuses.update({account_id: status for account_id, status in rows})
    return statuses


@dataclass(frozen=True)
class NewAccount:
    """What opening one account asks for: the arguments of ``open_account``."""

    email: str
    credit_limit_cents: int
    tolerance_bps: int = 0
    document: str | None = None
    document_type: str | None = None
    account_id: str | None = None


@dataclass(frozen=True)
class _CheckedNew(NewAccount):
    """A request normalized and validated by ``_check_new``."""


def _check_new(request: NewAccount) -> _CheckedNew:
    """Normalize and validate one request, in the order ``open_account`` always has."""
    email = normalize_email(request.email)
    document = normalize_document(request.document)
    document_type = normalize_document_type(request.document_type, document)
    _check_limit(request.credit_limit_cents)
    _check_tolerance(request.tolerance_bps)
    if request.account_id is not None and not _ACCOUNT_ID.match(request.account_id):
        raise ValidationError("invalid account id", fields={"id": "1-120 of A-Z a-z 0-9 _.@+-"})
    return _CheckedNew(
        email=email,
        credit_limit_cents=request.credit_limit_cents,
        tolerance_bps=request.tolerance_bps,
        document=document,
        document_type=document_type,
        account_id=request.account_id,
    )


def open_account(
    session: Session,
    *,
    email: str,
    credit_limit_cents: int,
    tolerance_bps: int = 0,
    document: str | None = None,
    document_type: str | None = None,
    account_id: str | None = None,
    done_by: str | None = None,
    now: datetime | None = None,
) -> Account:
    """Open an account with its owner as level-1 holder and a ``Credit`` entry."""
    request = NewAccount(
        email=email,
        credit_limit_cents=credit_limit_cents,
        tolerance_bps=tolerance_bps,
        document=document,
        document_type=document_type,
        account_id=account_id,
    )
    account_id = only(open_accounts(session, [request], done_by=done_by, now=now))
    account = session.get(Account, account_id)
    assert account is not None  # just written in this transaction
    return account


def open_accounts(
    session: Session,
    requests: Sequence[NewAccount],
    *,
    done_by: str | None = None,
    now: datetime | None = None,
) -> list[str | ConnectorError]:
    """Open many accounts exactly as ``open_account`` would, one after the other.

    Each request gets its new account's id or the error that refused it; a refused
    request writes nothing and does not stop the others. Each uniqueness check is one
    read for the whole batch, and accounts, owners and ``Credit`` entries are written with
    one multi-row insert each, which is what makes a bulk import fast. Requests see the
    ones before them: a second request for the same e-mail or document is refused as if
    the first were already committed.
    """
    now = now or utcnow()
    checked: list[_CheckedNew | ConnectorError] = []
    for request in requests:
        try:
            checked.append(_check_new(request))
        except ConnectorError as error:
            checked.append(error)
    valid = [c for c in checked if isinstance(c, _CheckedNew)]
    # What the database already has, read once; the loop adds what this batch creates.
    id_status = _account_statuses(
        session,
        [
            c.account_id or f"{c.document}_{c.document_type}"
            for c in valid
            if c.account_id or c.document
        ],
    )
    documents = open_documents(session, [c.document for c in valid if c.document is not None])
    holders = held_emails(session, [c.email for c in valid])
    results: list[str | ConnectorError] = []
    accounts: list[dict[str, Any]] = []
    owners: list[dict[str, Any]] = []
    credits: list[tuple[str, int, dict[str, Any]]] = []
    for item in checked:
        if isinstance(item, ConnectorError):
            results.append(item)
            continue
        try:
            account_id = _choose_account_id(item, id_status)
            if item.document is not None and (item.document, item.document_type) in documents:
                raise _taken_document_error(documents[(item.document, item.document_type)])
            if item.email in holders:
                raise _taken_email_error(item.email, holders[item.email])
        except ConnectorError as error:
            results.append(error)
            continue
        accounts.append(_account_values(item, account_id, now))
        owners.append(
            {
                "id": new_id(),
                "account_id": account_id,
                "email": item.email,
                "level": OWNER_LEVEL,
                "created_at": now,
                "removed_at": None,
            }
        )
        credits.append(
            (
                account_id,
                rules.credit_capacity(item.credit_limit_cents, item.tolerance_bps),
                {"creditLimit": item.credit_limit_cents, "toleranceBps": item.tolerance_bps},
            )
        )
        id_status[account_id] = ACCOUNT_OPEN
        if item.document is not None:
            documents[(item.document, item.document_type)] = account_id
        holders[item.email] = account_id
        results.append(account_id)
    if accounts:
        session.execute(insert(Account), accounts)
        session.execute(insert(Holder), owners)
        post_opening_credits(session, credits, now=now, done_by=done_by)
    return results


def _choose_account_id(item: _CheckedNew, id_status: dict[str, str]) -> str:
    """The asked id, ``{document}_{documentType}``, or a fresh id when a closed account has it."""
    if item.account_id is not None:
        if item.account_id in id_status:
            raise Conflict(f"account {item.account_id} already exists", code="account_exists")
        return item.account_id
    if item.document is None:
        return new_id()
    base = f"{item.document}_{item.document_type}"
    status = id_status.get(base)
    if status is None:
        return base
    if status == ACCOUNT_OPEN:
        raise Conflict(f"account {base} already exists", code="account_exists")
    while True:
        candidate = f"{base}_{secrets.token_hex(4)}"
        if candidate not in id_status:
            return candidate


def _account_values(item: _CheckedNew, account_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": account_id,
        "email": item.email,
        "document": item.document,
        "document_type": item.document_type,
        "status": ACCOUNT_OPEN,
        "credit_limit_cents": item.credit_limit_cents,
        "tolerance_bps": item.tolerance_bps,
        "balance_cents": 0,
        "reserved_cents": 0,
        "created_at": now,
        "updated_at": now,
        "closed_at": None,
    }


def _set_credit(
    session: Session,
    account: Account,
    *,
    credit_limit_cents: int,
    tolerance_bps: int,
    done_by: str | None,
    now: datetime,
) -> None:
    """Change limit and tolerance, recording the change of capacity as a ``Credit`` entry."""
    _check_limit(credit_limit_cents)
    _check_tolerance(tolerance_bps)
    before = rules.credit_capacity(account.credit_limit_cents, account.tolerance_bps)
    after = rules.credit_capacity(credit_limit_cents, tolerance_bps)
    changed = (credit_limit_cents, tolerance_bps) != (
        account.credit_limit_cents,
        account.tolerance_bps,
    )
    account.credit_limit_cents = credit_limit_cents
    account.tolerance_bps = tolerance_bps
    if changed:
        post_entry(
            session,
            account,
            ORIGIN_CREDIT,
            after - before,
            now=now,
            done_by=done_by,
            details={"creditLimit": credit_limit_cents, "toleranceBps": tolerance_bps},
        )


def change_credit_limit(
    session: Session,
    account_id: str,
    credit_limit_cents: int,
    *,
    done_by: str | None = None,
    now: datetime | None = None,
) -> Account:
    """Set the credit limit; it applies to the next authorization at once."""
    now = now or utcnow()
    account = lock_account(session, account_id)
    ensure_open(account)
    _set_credit(
        session,
        account,
        credit_limit_cents=credit_limit_cents,
        tolerance_bps=account.tolerance_bps,
        done_by=done_by,
        now=now,
    )
    session.flush()
    return account


def change_tolerance(
    session: Session,
    account_id: str,
    tolerance_bps: int,
    *,
    done_by: str | None = None,
    now: datetime | None = None,
) -> Account:
    """Set the tolerance rate (used only when the store enables tolerance)."""
    now = now or utcnow()
    account = lock_account(session, account_id)
    ensure_open(account)
    _set_credit(
        session,
        account,
        credit_limit_cents=account.credit_limit_cents,
        tolerance_bps=tolerance_bps,
        done_by=done_by,
        now=now,
    )
    session.flush()
    return account


_UNCHANGED: Any = object()


@dataclass(frozen=True)
class AccountChange:
    """What updating one account asks for: the arguments of ``update_account``."""

    account_id: str
    email: str | None = None
    document: object = _UNCHANGED
    document_type: object = _UNCHANGED
    credit_limit_cents: int | None = None
    tolerance_bps: int | None = None


def update_account(
    session: Session,
    account_id: str,
    *,
    email: str | None = None,
    document: object = _UNCHANGED,
    document_type: object = _UNCHANGED,
    credit_limit_cents: int | None = None,
    tolerance_bps: int | None = None,
    done_by: str | None = None,
    now: datetime | None = None,
) -> Account:
    """Change an open account's owner e-mail, document, limit or tolerance."""
    change = AccountChange(
        account_id=account_id,
        email=email,
        document=document,
        document_type=document_type,
        credit_limit_cents=credit_limit_cents,
        tolerance_bps=tolerance_bps,
    )
    return only(update_accounts(session, [change], done_by=done_by, now=now))


def update_accounts(
    session: Session,
    changes: Sequence[AccountChange],
    *,
    done_by: str | None = None,
    now: datetime | None = None,
) -> list[Account | ConnectorError]:
    """Apply many changes exactly as ``update_account`` would, one after the other.

    The accounts are locked together (in id order); each change gets its account or the
    error that refused it, and a refused change leaves its account untouched. Changes see
    the ones before them, so two rows cannot both take the same e-mail or document.
    """
    now = now or utcnow()
    accounts = lock_accounts(session, [c.account_id for c in changes])
    # Read once what the checks need; the loop keeps these maps current as it applies.
    emails = [_quiet(normalize_email, c.email) for c in changes if c.email is not None]
    holders = held_emails(session, [e for e in emails if e is not None])
    documents = open_documents(
        session,
        [
            d
            for c in changes
            if c.document is not _UNCHANGED
            for d in [_quiet(normalize_document, c.document)]
            if d is not None
        ],
    )
    owners = {
        owner.account_id: owner
        for owner in _owners(session, [c.account_id for c in changes if c.email is not None])
    }
    results: list[Account | ConnectorError] = []
    for change in changes:
        account = accounts.get(change.account_id)
        try:
            if account is None:
                raise NotFound(f"account {change.account_id!r} not found", code="account_not_found")
            _apply_change(session, account, change, holders, documents, owners, done_by, now)
        except ConnectorError as error:
            results.append(error)
            continue
        results.append(account)
    session.flush()
    return results


def _quiet(normalize: Any, value: object) -> Any:
    """A normalized value for a batch read, or None when invalid (reported when applied)."""
    try:
        return normalize(value)
    except ValidationError:
        return None


def _owners(session: Session, account_ids: Sequence[str]) -> list[Holder]:
    owners: list[Holder] = []
    for part in in_slices(account_ids):
        owners.extend(
            session.scalars(
                select(Holder).where(
                    Holder.account_id.in_(part),
                    Holder.level == OWNER_LEVEL,
                    Holder.removed_at.is_(None),
                )
            )
        )
    return owners


def _apply_change(
    session: Session,
    account: Account,
    change: AccountChange,
    holders: dict[str, str],
    documents: dict[tuple[str, str | None], str],
    owners: dict[str, Holder],
    done_by: str | None,
    now: datetime,
) -> None:
    """Check every part of one change first, then apply it, so a refusal changes nothing."""
    ensure_open(account)
    new_email = account.email
    if change.email is not None:
        new_email = normalize_email(change.email)
        if new_email != account.email and new_email in holders:
            raise _taken_email_error(new_email, holders[new_email])
    new_document, new_type = account.document, account.document_type
    if change.document is not _UNCHANGED or change.document_type is not _UNCHANGED:
        new_document = (
            normalize_document(change.document)
            if change.document is not _UNCHANGED
            else account.document
        )
        new_type = normalize_document_type(
            change.document_type
            if change.document_type is not _UNCHANGED
            else account.document_type,
            new_document,
        )
        if new_document is not None and (new_document, new_type) != (
            account.document,
            account.document_type,
        ):
            holder_of_document = documents.get((new_document, new_type))
            if holder_of_document is not None and holder_of_document != account.id:
                raise _taken_document_error(holder_of_document)
    limit = account.credit_limit_cents
    tolerance = account.tolerance_bps
    if change.credit_limit_cents is not None or change.tolerance_bps is not None:
        limit = limit if change.credit_limit_cents is None else change.credit_limit_cents
        tolerance = tolerance if change.tolerance_bps is None else change.tolerance_bps
        _check_limit(limit)
        _check_tolerance(tolerance)
    # Every check passed: apply.
    moved = False
    if new_email != account.email:
        owners[account.id].email = new_email
        holders.pop(account.email, None)
        holders[new_email] = account.id
        account.email = new_email
        moved = True
    if (new_document, new_type) != (account.document, account.document_type):
        if account.document is not None:
            documents.pop((account.document, account.document_type), None)
        if new_document is not None:
            documents[(new_document, new_type)] = account.id
        account.document, account.document_type = new_document, new_type
        moved = True
    _set_credit(
        session,
        account,
        credit_limit_cents=limit,
        tolerance_bps=tolerance,
        done_by=done_by,
        now=now,
    )
    account.updated_at = now
    if moved:
        # Unique indexes check each statement: write a freed e-mail or document before a
        # later change in the batch takes it.
        session.flush()


def close_account(
    session: Session,
    account_id: str,
    *,
    force: bool = False,
    done_by: str | None = None,
    now: datetime | None = None,
) -> Account:
    """Close an account for good. Refused while it has open invoices or reservations,
    unless forced; forcing voids the reservations and keeps the invoices owed.
    Invoices, entries and holders are kept; the holders' e-mails become free.
    """
    now = now or utcnow()
    account = lock_account(session, account_id)
    if account.status == ACCOUNT_CLOSED:
        return account
    open_invoices = session.scalar(
        select(func.count())
        .select_from(Invoice)
        .where(Invoice.account_id == account.id, Invoice.status == INVOICE_OPENED)
    )
    pending = session.scalar(
        select(func.count())
        .select_from(Reservation)
        .where(Reservation.account_id == account.id, Reservation.status == PENDING)
    )
    if (open_invoices or pending) and not force:
        raise Conflict(
            f"account {account.id} has {open_invoices} open invoice(s) and {pending} "
            "reservation(s); settle them first or close with force",
            code="account_has_open_items",
        )
    void_pending(session, account, now=now)
    account.status = ACCOUNT_CLOSED
    account.closed_at = now
    account.updated_at = now
    for holder in session.scalars(
        select(Holder).where(Holder.account_id == account.id, Holder.removed_at.is_(None))
    ):
        holder.removed_at = now
    session.flush()
    return account


def add_holder(
    session: Session, account_id: str, email: str, *, now: datetime | None = None
) -> Holder:
    """Add a dependent who spends from the owner's pool."""
    now = now or utcnow()
    email = normalize_email(email, field="claims.email")
    account = lock_account(session, account_id)
    ensure_open(account)
    _ensure_email_free(session, email, field="claims.email")
    holder = Holder(
        id=new_id(),
        account_id=account.id,
        email=email,
        level=DEPENDENT_LEVEL,
        created_at=now,
        removed_at=None,
    )
    session.add(holder)
    session.flush()
    return holder


def remove_holder(
    session: Session, account_id: str, holder_id: str, *, now: datetime | None = None
) -> Holder:
    """Remove a dependent; the owner stays for as long as the account does."""
    now = now or utcnow()
    lock_account(session, account_id)
    holder = session.get(Holder, holder_id)
    if holder is None or holder.account_id != account_id or holder.removed_at is not None:
        raise NotFound(f"holder {holder_id!r} not found", code="holder_not_found")
    if holder.level == OWNER_LEVEL:
        raise Conflict("the account owner cannot be removed", code="owner_not_removable")
    holder.removed_at = now
    session.flush()
    return holder


def list_holders(session: Session, account_id: str) -> list[Holder]:
    if session.get(Account, account_id) is None:
        raise NotFound(f"account {account_id!r} not found", code="account_not_found")
    return list(
        session.scalars(
            select(Holder)
            .where(Holder.account_id == account_id, Holder.removed_at.is_(None))
            .order_by(Holder.level, Holder.created_at, Holder.id)
        )
    )


def buyer_account_conditions(email: str | BindParameter[str]) -> tuple[ColumnElement[bool], ...]:
    """An open account whose active holder has this (normalized) e-mail: at most one."""
    return (
        Holder.account_id == Account.id,
        Holder.email == email,
        Holder.removed_at.is_(None),
        Account.status == ACCOUNT_OPEN,
    )


def find_account_for_buyer(
    session: Session,
    *,
    email: str | None,
    document: str | None = None,
    document_type: str | None = None,
    lock: bool = False,
) -> Account | None:
    """The open account a buyer may spend from: by holder e-mail, then by document.

    With ``lock``, the account comes back locked (one query when found by e-mail), ready
    for a credit change in this transaction.
    """
    if email:
        by_email = select(Account).where(*buyer_account_conditions(email.strip().lower()))
        account = lock_accounts_where(session, by_email) if lock else session.scalar(by_email)
        if account is not None:
            return account
    try:
        doc = normalize_document(document)
    except ValidationError:
        return None
    if doc is None:
        return None
    candidates = list(
        session.scalars(
            select(Account).where(Account.document == doc, Account.status == ACCOUNT_OPEN)
        )
    )
    found = None
    if document_type:
        typed = [a for a in candidates if (a.document_type or "").lower() == document_type.lower()]
        found = typed[0] if typed else None
    if found is None and len(candidates) == 1:
        found = candidates[0]
    return lock_account(session, found.id) if lock and found is not None else found


def has_closed_account(session: Session, email: str) -> bool:
    """Whether a closed account is owned by this e-mail (to tell "closed" from "none")."""
    query = select(Account.id).where(
        Account.email == email.strip().lower(), Account.status == ACCOUNT_CLOSED
    )
    return session.scalar(query.limit(1)) is not None


@dataclass(frozen=True)
class Figures:
    """An account's credit figures as the store and the customer see them."""

    credit_limit_cents: int
    tolerance_bps: int
    balance_cents: int
    reserved_cents: int
    available_cents: int
    tolerance_headroom_cents: int
    spending_power_cents: int


def figures(account: Account, settings: StoreSettings) -> Figures:
    available = rules.available_credit(
        account.credit_limit_cents, account.balance_cents, account.reserved_cents
    )
    headroom = (
        rules.tolerance_headroom(account.credit_limit_cents, account.tolerance_bps)
        if settings.tolerance_enabled
        else 0
    )
    return Figures(
        credit_limit_cents=account.credit_limit_cents,
        tolerance_bps=account.tolerance_bps,
        balance_cents=account.balance_cents,
        reserved_cents=account.reserved_cents,
        available_cents=available,
        tolerance_headroom_cents=headroom,
        spending_power_cents=available + headroom,
    )
