"""Batched lookups by key, for bulk imports: one query per slice of keys, not one per row."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit.bulk_write import among
from connector.credit.ledger import in_slices
from connector.credit.models import Account, AccountStatus, Invoice


def accounts_by_id(session: Session, ids: Iterable[str]) -> dict[str, Account]:
    """Accounts (open or closed) by id; missing ids are absent."""
    found: dict[str, Account] = {}
    for part in in_slices(ids):
        found.update(
            {
                a.id: a
                for a in session.scalars(select(Account).where(among(session, Account.id, part)))
            }
        )
    return found


def open_accounts_by_document(
    session: Session, documents: Iterable[str]
) -> dict[str, list[Account]]:
    """Open accounts by (normalized) document; one document may have several types."""
    found: dict[str, list[Account]] = {}
    for part in in_slices(documents):
        query = select(Account).where(
            among(session, Account.document, part), Account.status == AccountStatus.OPEN
        )
        for account in session.scalars(query.order_by(Account.id)):
            found.setdefault(account.document or "", []).append(account)
    return found


def open_accounts_by_email(session: Session, emails: Iterable[str]) -> dict[str, Account]:
    """Open accounts by their owner's (normalized) e-mail, which is unique among open ones."""
    found: dict[str, Account] = {}
    for part in in_slices(emails):
        query = select(Account).where(
            among(session, Account.email, part), Account.status == AccountStatus.OPEN
        )
        found.update({a.email: a for a in session.scalars(query)})
    return found


def invoices_by_id(session: Session, ids: Iterable[str]) -> dict[str, Invoice]:
    found: dict[str, Invoice] = {}
    for part in in_slices(ids):
        found.update(
            {i.id: i for i in session.scalars(select(Invoice).where(Invoice.id.in_(part)))}
        )
    return found
