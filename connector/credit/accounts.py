"""Accounts: open (one or a batch at once), close, and the figures shown for them.

Changing an open account's owner, document, limit or tolerance is in
``account_changes``; its holders are in ``holders``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from connector import audit
from connector.clock import utcnow
from connector.credit import rules
from connector.credit.bulk_write import among, insert_rows
from connector.credit.holders import held_emails, taken_email_error
from connector.credit.identity import (
    check_document,
    normalize_company_name,
    normalize_document,
    normalize_document_type,
    normalize_email,
)
from connector.credit.ledger import (
    in_slices,
    lock_account,
    opening_credit_rows,
    post_opening_credits,
)
from connector.credit.models import (
    Account,
    AccountStatus,
    Holder,
    HolderLevel,
    Invoice,
    InvoiceStatus,
    Reservation,
    ReservationStatus,
    StatementEntry,
)
from connector.credit.reservations import void_pending
from connector.credit.settings import StoreSettings
from connector.errors import Code, Conflict, ConnectorError, ValidationError, only
from connector.ids import new_id, new_ids

_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9_.@+-]{1,120}$")


def check_limit(credit_limit_cents: int) -> None:
    if credit_limit_cents < 0:
        raise ValidationError("negative credit limit", fields={"creditLimit": "must be >= 0"})


def check_tolerance(tolerance_bps: int) -> None:
    if not 0 <= tolerance_bps <= 10_000:
        raise ValidationError("bad tolerance", fields={"tolerance": "a fraction from 0 to 1"})


def taken_document_error(account_id: str) -> Conflict:
    return Conflict(
        "an open account ({account}) already has this document",
        code=Code.ACCOUNT_EXISTS,
        fields={"document": "already used by an open account"},
        account=account_id,
    )


def open_documents(session: Session, documents: Iterable[str]) -> dict[tuple[str, str | None], str]:
    """The open accounts that have one of these (normalized) documents, by (document, type)."""
    found: dict[tuple[str, str | None], str] = {}
    for part in in_slices(documents):
        rows = session.execute(
            select(Account.document, Account.document_type, Account.id).where(
                among(session, Account.document, part),
                Account.status == AccountStatus.OPEN,
            )
        )
        for document, kind, account_id in rows:
            if document is not None:
                found[(document, kind)] = account_id
    return found


def _account_statuses(session: Session, account_ids: Iterable[str]) -> dict[str, str]:
    statuses: dict[str, str] = {}
    for part in in_slices(account_ids):
        rows = session.execute(
            select(Account.id, Account.status).where(among(session, Account.id, part))
        )
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
    company_name: str | None = None

    def checked(self) -> NewAccount:
        """The request normalized and validated, in the order ``open_account`` always has."""
        email = normalize_email(self.email)
        document = normalize_document(self.document)
        document_type = normalize_document_type(self.document_type, document)
        check_document(document, document_type)
        company_name = normalize_company_name(self.company_name)
        return NewAccount(
            email=email,
            credit_limit_cents=self.credit_limit_cents,
            tolerance_bps=self.tolerance_bps,
            document=document,
            document_type=document_type,
            account_id=self.account_id,
            company_name=company_name,
        ).values_checked()

    def values_checked(self) -> NewAccount:
        """The request with its limit, tolerance and id checked (the rest as given)."""
        check_limit(self.credit_limit_cents)
        check_tolerance(self.tolerance_bps)
        if self.account_id is not None and not _ACCOUNT_ID.match(self.account_id):
            raise ValidationError("invalid account id", fields={"id": "1-120 of A-Z a-z 0-9 _.@+-"})
        return self

    @property
    def default_id(self) -> str | None:
        """``{document}_{documentType}``, the id an account gets when none is asked for."""
        return f"{self.document}_{self.document_type}" if self.document is not None else None


@dataclass
class _Taken:
    """What is taken already: ids, documents and e-mails, read once for a batch and kept
    current as the batch admits accounts, so a request sees the ones before it."""

    statuses: dict[str, str]
    documents: dict[tuple[str, str | None], str]
    emails: dict[str, str]

    @classmethod
    def read(cls, session: Session, requests: Sequence[NewAccount]) -> _Taken:
        ids = [r.account_id or r.default_id for r in requests]
        return cls(
            _account_statuses(session, [i for i in ids if i is not None]),
            open_documents(session, [r.document for r in requests if r.document is not None]),
            held_emails(session, [r.email for r in requests]),
        )

    def admit(self, request: NewAccount) -> str:
        """The new account's id, recorded as taken; or the conflict that refuses it."""
        account_id = self._choose_id(request)
        key = (request.document, request.document_type)
        if request.document is not None and key in self.documents:
            raise taken_document_error(self.documents[key])
        if request.email in self.emails:
            raise taken_email_error(request.email, self.emails[request.email])
        self.statuses[account_id] = AccountStatus.OPEN
        if request.document is not None:
            self.documents[(request.document, request.document_type)] = account_id
        self.emails[request.email] = account_id
        return account_id

    def _choose_id(self, request: NewAccount) -> str:
        """The asked id, the default one, or a fresh one when a closed account has it."""
        if request.account_id is not None:
            if request.account_id in self.statuses:
                raise Conflict(
                    "account {account} already exists",
                    code=Code.ACCOUNT_EXISTS,
                    account=request.account_id,
                )
            return request.account_id
        base = request.default_id
        if base is None:
            return new_id()
        status = self.statuses.get(base)
        if status is None:
            return base
        if status == AccountStatus.OPEN:
            raise Conflict(
                "account {account} already exists", code=Code.ACCOUNT_EXISTS, account=base
            )
        while True:
            candidate = f"{base}_{secrets.token_hex(4)}"
            if candidate not in self.statuses:
                return candidate


@dataclass
class _Rows:
    """The rows a batch of new accounts writes, one multi-row insert per table."""

    accounts: list[dict[str, Any]] = field(default_factory=list)
    owners: list[dict[str, Any]] = field(default_factory=list)
    credits: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)

    def add(self, request: NewAccount, account_id: str, now: datetime) -> None:
        self.accounts.append(
            {
                "id": account_id,
                "email": request.email,
                "document": request.document,
                "document_type": request.document_type,
                "company_name": request.company_name,
                "status": AccountStatus.OPEN,
                "credit_limit_cents": request.credit_limit_cents,
                "tolerance_bps": request.tolerance_bps,
                "balance_cents": 0,
                "reserved_cents": 0,
                "created_at": now,
                "updated_at": now,
                "closed_at": None,
            }
        )
        self.owners.append(
            {
                "id": None,  # given in ``write``, all at once
                "account_id": account_id,
                "email": request.email,
                "level": HolderLevel.OWNER,
                "created_at": now,
                "removed_at": None,
            }
        )
        self.credits.append(
            (
                account_id,
                rules.credit_capacity(request.credit_limit_cents, request.tolerance_bps),
                {"creditLimit": request.credit_limit_cents, "toleranceBps": request.tolerance_bps},
            )
        )

    def write(self, session: Session, now: datetime, done_by: str | None, *, bulk: bool) -> None:
        """One multi-row insert per table; ``bulk``: the database's own bulk path instead
        of the ORM's insert (``bulk_write``), the same rows either way."""
        if not self.accounts:
            return
        for owner, holder_id in zip(self.owners, new_ids(len(self.owners)), strict=True):
            owner["id"] = holder_id
        opened = [
            audit.Change(
                "account.opened",
                "account",
                row["id"],
                row["id"],
                after={name: row[name] for name in _OPENED_FIELDS},
            )
            for row in self.accounts
        ]
        if not bulk:
            session.execute(insert(Account), self.accounts)
            session.execute(insert(Holder), self.owners)
            post_opening_credits(session, self.credits, now=now, done_by=done_by)
            audit.record_many(session, opened, at=now)
            return
        insert_rows(session, Account, self.accounts)
        insert_rows(session, Holder, self.owners)
        insert_rows(session, StatementEntry, opening_credit_rows(self.credits, now, done_by))
        insert_rows(session, audit.AuditEntry, audit.entry_rows(opened, at=now))


# What the trail shows of a new account.
_OPENED_FIELDS = ("email", "document", "document_type", "credit_limit_cents", "tolerance_bps")


def open_account(
    session: Session,
    *,
    email: str,
    credit_limit_cents: int,
    tolerance_bps: int = 0,
    document: str | None = None,
    document_type: str | None = None,
    account_id: str | None = None,
    company_name: str | None = None,
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
        company_name=company_name,
    )
    account_id = only(open_accounts(session, [request], done_by=done_by, now=now))
    account = session.get(Account, account_id)
    assert account is not None  # just written in this transaction
    return account


def _checked(request: NewAccount, normalized: bool) -> NewAccount | ConnectorError:
    try:
        return request.values_checked() if normalized else request.checked()
    except ConnectorError as error:
        return error


def open_accounts(
    session: Session,
    requests: Sequence[NewAccount],
    *,
    done_by: str | None = None,
    now: datetime | None = None,
    normalized: bool = False,
    bulk: bool = False,
) -> list[str | ConnectorError]:
    """Open many accounts exactly as ``open_account`` would, one after the other.

    Each request gets its new account's id or the error that refused it; a refused
    request writes nothing and does not stop the others. Each uniqueness check is one
    read for the whole batch, and accounts, owners and ``Credit`` entries are written with
    one multi-row insert each, which is what makes a bulk import fast. Requests see the
    ones before them: a second request for the same e-mail or document is refused as if
    the first were already committed.

    ``normalized``: the caller already normalized and checked each request's e-mail,
    document, document type and company name with ``identity`` (the import's parser
    does, to report every bad cell of a row), so only the limit, the tolerance and the id
    are checked here. ``bulk``: written with the database's bulk path (``bulk_write``).
    """
    now = now or utcnow()
    checked = [_checked(request, normalized) for request in requests]
    taken = _Taken.read(session, [c for c in checked if isinstance(c, NewAccount)])
    rows = _Rows()
    results: list[str | ConnectorError] = []
    for item in checked:
        try:
            if isinstance(item, ConnectorError):
                raise item
            account_id = taken.admit(item)
        except ConnectorError as error:
            results.append(error)
            continue
        rows.add(item, account_id, now)
        results.append(account_id)
    rows.write(session, now, done_by, bulk=bulk)
    return results


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
    if account.status == AccountStatus.CLOSED:
        return account
    open_invoices = session.scalar(
        select(func.count())
        .select_from(Invoice)
        .where(Invoice.account_id == account.id, Invoice.status == InvoiceStatus.OPENED)
    )
    pending = session.scalar(
        select(func.count())
        .select_from(Reservation)
        .where(
            Reservation.account_id == account.id,
            Reservation.status == ReservationStatus.PENDING,
        )
    )
    if (open_invoices or pending) and not force:
        raise Conflict(
            "account {account} has {invoices} open invoice(s) and {reservations} "
            "reservation(s); settle them first or close with force",
            code=Code.ACCOUNT_HAS_OPEN_ITEMS,
            account=account.id,
            invoices=open_invoices,
            reservations=pending,
        )
    void_pending(session, account, now=now)
    audit.record(
        session,
        audit.Change(
            "account.closed",
            "account",
            account.id,
            account.id,
            before={"status": account.status},
            after={"status": AccountStatus.CLOSED},
            note="forced" if force and (open_invoices or pending) else None,
        ),
        at=now,
    )
    account.status = AccountStatus.CLOSED
    account.closed_at = now
    account.updated_at = now
    for holder in session.scalars(
        select(Holder).where(Holder.account_id == account.id, Holder.removed_at.is_(None))
    ):
        holder.removed_at = now
    session.flush()
    return account


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
    """The figures by the credit rules, with the headroom only when the store uses tolerance."""
    available = rules.available_credit(
        account.credit_limit_cents, account.balance_cents, account.reserved_cents
    )
    power = rules.spending_power(
        account.credit_limit_cents,
        account.balance_cents,
        account.reserved_cents,
        account.tolerance_bps,
        settings.tolerance_enabled,
    )
    return Figures(
        credit_limit_cents=account.credit_limit_cents,
        tolerance_bps=account.tolerance_bps,
        balance_cents=account.balance_cents,
        reserved_cents=account.reserved_cents,
        available_cents=available,
        tolerance_headroom_cents=power - available,
        spending_power_cents=power,
    )
