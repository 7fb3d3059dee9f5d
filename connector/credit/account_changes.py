"""Changing open accounts: owner e-mail, document, credit limit and tolerance, one or a
batch at once. A change of limit or tolerance is recorded as a ``Credit`` entry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import audit
from connector.clock import utcnow
from connector.credit import rules
from connector.credit.accounts import (
    check_limit,
    check_tolerance,
    open_documents,
    taken_document_error,
)
from connector.credit.holders import held_emails, taken_email_error
from connector.credit.identity import (
    check_document,
    normalize_company_name,
    normalize_document,
    normalize_document_type,
    normalize_email,
)
from connector.credit.ledger import ensure_open, in_slices, lock_accounts, post_entry
from connector.credit.models import Account, Holder, HolderLevel, Origin
from connector.errors import Code, ConnectorError, NotFound, ValidationError, only

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
    company_name: object = _UNCHANGED


def update_account(
    session: Session,
    account_id: str,
    *,
    email: str | None = None,
    document: object = _UNCHANGED,
    document_type: object = _UNCHANGED,
    credit_limit_cents: int | None = None,
    tolerance_bps: int | None = None,
    company_name: object = _UNCHANGED,
    done_by: str | None = None,
    now: datetime | None = None,
) -> Account:
    """Change an open account's owner e-mail, document, company name, limit or tolerance.

    A new limit or tolerance applies to the next authorization at once.
    """
    change = AccountChange(
        account_id=account_id,
        email=email,
        document=document,
        document_type=document_type,
        credit_limit_cents=credit_limit_cents,
        tolerance_bps=tolerance_bps,
        company_name=company_name,
    )
    return only(update_accounts(session, [change], done_by=done_by, now=now))


def change_credit_limit(
    session: Session,
    account_id: str,
    credit_limit_cents: int,
    *,
    done_by: str | None = None,
    now: datetime | None = None,
) -> Account:
    """Set the credit limit."""
    return update_account(
        session, account_id, credit_limit_cents=credit_limit_cents, done_by=done_by, now=now
    )


def change_tolerance(
    session: Session,
    account_id: str,
    tolerance_bps: int,
    *,
    done_by: str | None = None,
    now: datetime | None = None,
) -> Account:
    """Set the tolerance rate (used only when the store enables tolerance)."""
    return update_account(
        session, account_id, tolerance_bps=tolerance_bps, done_by=done_by, now=now
    )


def _quiet(normalize: Callable[[Any], Any], value: object) -> Any:
    """A normalized value for a batch read, or None when invalid (reported when applied)."""
    try:
        return normalize(value)
    except ValidationError:
        return None


def _owners(session: Session, account_ids: Sequence[str]) -> dict[str, Holder]:
    owners: dict[str, Holder] = {}
    for part in in_slices(account_ids):
        owners.update(
            (owner.account_id, owner)
            for owner in session.scalars(
                select(Holder).where(
                    Holder.account_id.in_(part),
                    Holder.level == HolderLevel.OWNER,
                    Holder.removed_at.is_(None),
                )
            )
        )
    return owners


@dataclass
class _Known:
    """The e-mails, documents and owners a batch's checks need, read once and kept
    current as changes apply, so two rows cannot both take the same e-mail or document."""

    emails: dict[str, str]
    documents: dict[tuple[str, str | None], str]
    owners: dict[str, Holder]

    @classmethod
    def read(cls, session: Session, changes: Sequence[AccountChange]) -> _Known:
        emails = [_quiet(normalize_email, c.email) for c in changes if c.email is not None]
        documents = [
            _quiet(normalize_document, c.document) for c in changes if c.document is not _UNCHANGED
        ]
        return cls(
            held_emails(session, [e for e in emails if e is not None]),
            open_documents(session, [d for d in documents if d is not None]),
            _owners(session, [c.account_id for c in changes if c.email is not None]),
        )


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
    known = _Known.read(session, changes)
    results: list[Account | ConnectorError] = []
    trail: list[audit.Change] = []
    for change in changes:
        account = accounts.get(change.account_id)
        try:
            if account is None:
                raise NotFound(
                    "account {account} not found",
                    code=Code.ACCOUNT_NOT_FOUND,
                    account=change.account_id,
                )
            before = _audited(account)
            _apply_change(session, account, change, known, done_by, now)
        except ConnectorError as error:
            results.append(error)
            continue
        trail += _account_changes(account.id, before, _audited(account))
        results.append(account)
    session.flush()
    audit.record_many(session, trail, at=now)
    return results


_CREDIT_FIELDS = ("credit_limit_cents", "tolerance_bps")
_DETAIL_FIELDS = ("email", "document", "document_type")


def _audited(account: Account) -> dict[str, Any]:
    return {name: getattr(account, name) for name in _CREDIT_FIELDS + _DETAIL_FIELDS}


def _account_changes(
    account_id: str, before: dict[str, Any], after: dict[str, Any]
) -> list[audit.Change]:
    """An account's change for the trail: its credit and its details, each when it moved."""
    trail = []
    for action, names in (("account.credit", _CREDIT_FIELDS), ("account.details", _DETAIL_FIELDS)):
        old = {name: before[name] for name in names}
        new = {name: after[name] for name in names}
        if old != new:
            trail.append(audit.Change(action, "account", account_id, account_id, old, new))
    return trail


def _new_email(account: Account, change: AccountChange, known: _Known) -> str:
    if change.email is None:
        return account.email
    email = normalize_email(change.email)
    if email != account.email and email in known.emails:
        raise taken_email_error(email, known.emails[email])
    return email


def _new_document(
    account: Account, change: AccountChange, known: _Known
) -> tuple[str | None, str | None]:
    if change.document is _UNCHANGED and change.document_type is _UNCHANGED:
        return account.document, account.document_type
    document = (
        normalize_document(change.document)
        if change.document is not _UNCHANGED
        else account.document
    )
    kind = normalize_document_type(
        change.document_type if change.document_type is not _UNCHANGED else account.document_type,
        document,
    )
    if (document, kind) == (account.document, account.document_type):
        return document, kind  # kept as it is, even one stored before check digits were
    check_document(document, kind)
    if document is not None:
        holder = known.documents.get((document, kind))
        if holder is not None and holder != account.id:
            raise taken_document_error(holder)
    return document, kind


def _new_credit(account: Account, change: AccountChange) -> tuple[int, int]:
    limit = account.credit_limit_cents
    tolerance = account.tolerance_bps
    if change.credit_limit_cents is not None:
        limit = change.credit_limit_cents
        check_limit(limit)
    if change.tolerance_bps is not None:
        tolerance = change.tolerance_bps
        check_tolerance(tolerance)
    return limit, tolerance


def _apply_change(
    session: Session,
    account: Account,
    change: AccountChange,
    known: _Known,
    done_by: str | None,
    now: datetime,
) -> None:
    """Check every part of one change first, then apply it, so a refusal changes nothing."""
    ensure_open(account)
    email = _new_email(account, change, known)
    document, kind = _new_document(account, change, known)
    limit, tolerance = _new_credit(account, change)
    if change.company_name is not _UNCHANGED:
        account.company_name = normalize_company_name(change.company_name)
    moved = False
    if email != account.email:
        known.owners[account.id].email = email
        known.emails.pop(account.email, None)
        known.emails[email] = account.id
        account.email = email
        moved = True
    if (document, kind) != (account.document, account.document_type):
        if account.document is not None:
            known.documents.pop((account.document, account.document_type), None)
        if document is not None:
            known.documents[(document, kind)] = account.id
        account.document, account.document_type = document, kind
        moved = True
    _set_credit(session, account, limit, tolerance, done_by, now)
    account.updated_at = now
    if moved:
        # Unique indexes check each statement: write a freed e-mail or document before a
        # later change in the batch takes it.
        session.flush()


def _set_credit(
    session: Session,
    account: Account,
    limit_cents: int,
    tolerance_bps: int,
    done_by: str | None,
    now: datetime,
) -> None:
    """Change limit and tolerance, recording the change of capacity as a ``Credit`` entry."""
    if (limit_cents, tolerance_bps) == (account.credit_limit_cents, account.tolerance_bps):
        return
    before = rules.credit_capacity(account.credit_limit_cents, account.tolerance_bps)
    after = rules.credit_capacity(limit_cents, tolerance_bps)
    account.credit_limit_cents = limit_cents
    account.tolerance_bps = tolerance_bps
    post_entry(
        session,
        account,
        Origin.CREDIT,
        after - before,
        now=now,
        done_by=done_by,
        details={"creditLimit": limit_cents, "toleranceBps": tolerance_bps},
    )
