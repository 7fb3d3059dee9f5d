"""Accounts and their holders: open, update, close; limits, tolerance, dependents."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.credit import rules
from connector.credit.ledger import ensure_open, lock_account, lock_accounts_where, post_entry
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
from connector.errors import Conflict, NotFound, ValidationError
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


def _ensure_email_free(session: Session, email: str, *, field: str = "email") -> None:
    taken = session.scalar(
        select(Holder.account_id).where(Holder.email == email, Holder.removed_at.is_(None))
    )
    if taken is not None:
        raise Conflict(
            f"{email} already holds account {taken}",
            code="holder_exists",
            fields={field: "already a holder of an open account"},
        )


def _ensure_document_free(
    session: Session, document: str, document_type: str | None, *, except_id: str | None = None
) -> None:
    query = select(Account.id).where(
        Account.document == document,
        Account.document_type == document_type,
        Account.status == ACCOUNT_OPEN,
    )
    if except_id is not None:
        query = query.where(Account.id != except_id)
    taken = session.scalar(query)
    if taken is not None:
        raise Conflict(
            f"an open account ({taken}) already has this document",
            code="account_exists",
            fields={"document": "already used by an open account"},
        )


def _new_account_id(session: Session, document: str | None, document_type: str | None) -> str:
    """``{document}_{documentType}``, or a fresh id when a closed account already has it."""
    if document is None:
        return new_id()
    base = f"{document}_{document_type}"
    existing = session.get(Account, base)
    if existing is None:
        return base
    if existing.status == ACCOUNT_OPEN:
        raise Conflict(f"account {base} already exists", code="account_exists")
    return f"{base}_{secrets.token_hex(4)}"


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
    now = now or utcnow()
    email = normalize_email(email)
    document = normalize_document(document)
    document_type = normalize_document_type(document_type, document)
    _check_limit(credit_limit_cents)
    _check_tolerance(tolerance_bps)
    if account_id is not None:
        if not _ACCOUNT_ID.match(account_id):
            raise ValidationError("invalid account id", fields={"id": "1-120 of A-Z a-z 0-9 _.@+-"})
        if session.get(Account, account_id) is not None:
            raise Conflict(f"account {account_id} already exists", code="account_exists")
    else:
        account_id = _new_account_id(session, document, document_type)
    if document is not None:
        _ensure_document_free(session, document, document_type)
    _ensure_email_free(session, email)
    account = Account(
        id=account_id,
        email=email,
        document=document,
        document_type=document_type,
        status=ACCOUNT_OPEN,
        credit_limit_cents=credit_limit_cents,
        tolerance_bps=tolerance_bps,
        balance_cents=0,
        reserved_cents=0,
        created_at=now,
        updated_at=now,
        closed_at=None,
    )
    session.add(account)
    session.add(
        Holder(
            id=new_id(),
            account_id=account_id,
            email=email,
            level=OWNER_LEVEL,
            created_at=now,
            removed_at=None,
        )
    )
    capacity = rules.credit_capacity(credit_limit_cents, tolerance_bps)
    post_entry(
        session,
        account,
        ORIGIN_CREDIT,
        capacity,
        now=now,
        done_by=done_by,
        details={"creditLimit": credit_limit_cents, "toleranceBps": tolerance_bps},
    )
    session.flush()
    return account


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


_UNCHANGED = object()


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
    now = now or utcnow()
    account = lock_account(session, account_id)
    ensure_open(account)
    if email is not None:
        email = normalize_email(email)
        if email != account.email:
            _ensure_email_free(session, email)
            owner = session.scalars(
                select(Holder).where(
                    Holder.account_id == account.id,
                    Holder.level == OWNER_LEVEL,
                    Holder.removed_at.is_(None),
                )
            ).one()
            owner.email = email
            account.email = email
    if document is not _UNCHANGED or document_type is not _UNCHANGED:
        new_document = (
            normalize_document(document) if document is not _UNCHANGED else account.document
        )
        new_type = normalize_document_type(
            document_type if document_type is not _UNCHANGED else account.document_type,
            new_document,
        )
        if new_document is not None and (new_document, new_type) != (
            account.document,
            account.document_type,
        ):
            _ensure_document_free(session, new_document, new_type, except_id=account.id)
        account.document, account.document_type = new_document, new_type
    if credit_limit_cents is not None or tolerance_bps is not None:
        _set_credit(
            session,
            account,
            credit_limit_cents=account.credit_limit_cents
            if credit_limit_cents is None
            else credit_limit_cents,
            tolerance_bps=account.tolerance_bps if tolerance_bps is None else tolerance_bps,
            done_by=done_by,
            now=now,
        )
    account.updated_at = now
    session.flush()
    return account


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
        by_email = (
            select(Account)
            .join(Holder, Holder.account_id == Account.id)
            .where(
                Holder.email == email.strip().lower(),
                Holder.removed_at.is_(None),
                Account.status == ACCOUNT_OPEN,
            )
        )
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
