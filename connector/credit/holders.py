"""Holders: the owner and the dependents who spend from an account, and finding the
account a buyer pays with."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import BindParameter, ColumnElement, select
from sqlalchemy.orm import Session

from connector import audit
from connector.clock import utcnow
from connector.credit.bulk_write import among
from connector.credit.identity import (
    canonical_email,
    is_valid_document,
    normalize_document,
    normalize_email,
)
from connector.credit.ledger import ensure_open, in_slices, lock_account, lock_accounts_where
from connector.credit.models import Account, AccountStatus, Holder, HolderLevel
from connector.credit.settings import LANGUAGES as MAIL_LANGUAGES
from connector.errors import Code, Conflict, NotFound, Reason, ValidationError
from connector.ids import new_id


def taken_email_error(email: str, account_id: str, field: str = "email") -> Conflict:
    return Conflict(
        "{email} already holds account {account}",
        code=Code.HOLDER_EXISTS,
        fields={field: "already a holder of an open account"},
        email=email,
        account=account_id,
    )


def held_emails(session: Session, emails: Iterable[str]) -> dict[str, str]:
    """Which of these (canonical) e-mails are active holders, and of which account."""
    held: dict[str, str] = {}
    for part in in_slices(emails):
        rows = session.execute(
            select(Holder.email, Holder.account_id).where(
                among(session, Holder.email, part), Holder.removed_at.is_(None)
            )
        )
        held.update({email: account_id for email, account_id in rows})
    return held


def add_holder(
    session: Session, account_id: str, email: str, *, now: datetime | None = None
) -> Holder:
    """Add a dependent who spends from the owner's pool."""
    now = now or utcnow()
    email = normalize_email(email, field="claims.email")
    account = lock_account(session, account_id)
    ensure_open(account)
    taken = held_emails(session, [email])
    if email in taken:
        raise taken_email_error(email, taken[email], "claims.email")
    holder = Holder(
        id=new_id(),
        account_id=account.id,
        email=email,
        level=HolderLevel.DEPENDENT,
        created_at=now,
        removed_at=None,
        language=None,
        mail_opt_out_at=None,
    )
    session.add(holder)
    session.flush()
    audit.record(
        session,
        audit.Change("holder.added", "holder", holder.id, account.id, after={"email": email}),
        at=now,
    )
    return holder


def set_mail_preferences(
    session: Session,
    account_id: str,
    holder_id: str,
    *,
    language: str | None,
    opted_out: bool,
    now: datetime | None = None,
) -> Holder:
    """A holder's language for the mails (None: the store's) and whether they get any."""
    now = now or utcnow()
    holder = session.get(Holder, holder_id)
    if holder is None or holder.account_id != account_id or holder.removed_at is not None:
        raise NotFound("holder {holder} not found", code=Code.HOLDER_NOT_FOUND, holder=holder_id)
    if language is not None and language not in MAIL_LANGUAGES:
        raise ValidationError(
            "invalid language",
            fields={"language": Reason("one of {choices}", choices=", ".join(MAIL_LANGUAGES))},
        )
    before = {"language": holder.language, "mails": holder.mail_opt_out_at is None}
    holder.language = language
    if opted_out and holder.mail_opt_out_at is None:
        holder.mail_opt_out_at = now
    elif not opted_out:
        holder.mail_opt_out_at = None
    session.flush()
    after = {"language": holder.language, "mails": holder.mail_opt_out_at is None}
    if after != before:
        audit.record(
            session,
            audit.Change("holder.mail", "holder", holder.id, account_id, before, after),
            at=now,
        )
    return holder


def remove_holder(
    session: Session, account_id: str, holder_id: str, *, now: datetime | None = None
) -> Holder:
    """Remove a dependent; the owner stays for as long as the account does."""
    now = now or utcnow()
    lock_account(session, account_id)
    holder = session.get(Holder, holder_id)
    if holder is None or holder.account_id != account_id or holder.removed_at is not None:
        raise NotFound("holder {holder} not found", code=Code.HOLDER_NOT_FOUND, holder=holder_id)
    if holder.level == HolderLevel.OWNER:
        raise Conflict("the account owner cannot be removed", code=Code.OWNER_NOT_REMOVABLE)
    holder.removed_at = now
    session.flush()
    audit.record(
        session,
        audit.Change(
            "holder.removed", "holder", holder.id, account_id, before={"email": holder.email}
        ),
        at=now,
    )
    return holder


def list_holders(session: Session, account_id: str) -> list[Holder]:
    if session.get(Account, account_id) is None:
        raise NotFound(
            "account {account} not found", code=Code.ACCOUNT_NOT_FOUND, account=account_id
        )
    return list(
        session.scalars(
            select(Holder)
            .where(Holder.account_id == account_id, Holder.removed_at.is_(None))
            .order_by(Holder.level, Holder.created_at, Holder.id)
        )
    )


def buyer_account_conditions(email: str | BindParameter[str]) -> tuple[ColumnElement[bool], ...]:
    """An open account whose active holder has this (canonical) e-mail: at most one."""
    return (
        Holder.account_id == Account.id,
        Holder.email == email,
        Holder.removed_at.is_(None),
        Account.status == AccountStatus.OPEN,
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
        by_email = select(Account).where(*buyer_account_conditions(canonical_email(email)))
        account = lock_accounts_where(session, by_email) if lock else session.scalar(by_email)
        if account is not None:
            return account
    try:
        doc = normalize_document(document)
    except ValidationError:
        return None
    if doc is None or (document_type and not is_valid_document(doc, document_type.upper())):
        return None  # a CPF or CNPJ with wrong check digits is no one's: nothing to look up
    candidates = list(
        session.scalars(
            select(Account).where(Account.document == doc, Account.status == AccountStatus.OPEN)
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
        Account.email == canonical_email(email), Account.status == AccountStatus.CLOSED
    )
    return session.scalar(query.limit(1)) is not None
