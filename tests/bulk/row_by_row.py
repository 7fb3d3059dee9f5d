"""The reference account import: each row on its own, through the account services.

``RowByRowAccountsImport`` applies a file's rows one at a time, in file order, each in
its own savepoint: a create row calls ``open_account``, an update row ``update_account``,
with the ORM's unit of work writing every row. It shares the import's parser and its
rules for matching rows to accounts (``outcome_of_existing``, ``target``, ``change``), so
what it tests is the set-wise path's batching and writing: waves, set-wise lookups,
``open_accounts``'s batch checks, ``bulk_write``'s COPY and executemany.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.bulk.accounts_import import (
    AccountRow,
    AccountsImport,
    existing_accounts,
    new_account,
)
from connector.bulk.report import Outcome
from connector.credit.account_changes import update_account
from connector.credit.accounts import open_account
from connector.credit.lookups import (
    accounts_by_id,
    open_accounts_by_document,
    open_accounts_by_email,
)
from connector.credit.models import AccountStatus
from connector.errors import Code, Conflict, ConnectorError


class RowByRowAccountsImport(AccountsImport):
    """The reference path: one service call per row, no batching."""

    def apply(
        self, session: Session, rows: Sequence[AccountRow], *, done_by: str, now: datetime
    ) -> list[Outcome]:
        outcomes = []
        for row in rows:
            try:
                with session.begin_nested():
                    if self.mode == "create":
                        outcome = self._create_one(session, row, done_by, now)
                    else:
                        outcome = self._update_one(session, row, done_by, now)
            except ConnectorError as error:
                outcome = self.refused(row, error)
            except IntegrityError:
                error = Conflict("a concurrent change conflicts with this row", code=Code.CONFLICT)
                outcome = self.refused(row, error)
            outcomes.append(outcome)
        return outcomes

    def _create_one(
        self, session: Session, row: AccountRow, done_by: str, now: datetime
    ) -> Outcome:
        account = existing_accounts(session, [row]).get(row.key())
        if account is not None and account.status == AccountStatus.OPEN:
            return self.outcome_of_existing(row, account)
        request = new_account(row)
        open_account(
            session,
            **{f.name: getattr(request, f.name) for f in fields(request)},
            done_by=done_by,
            now=now,
        )
        return Outcome(row.number, "created")

    def _update_one(
        self, session: Session, row: AccountRow, done_by: str, now: datetime
    ) -> Outcome:
        by_id = accounts_by_id(session, [row.account_id] if row.account_id else [])
        keyed = [] if row.account_id else [row]
        by_document = open_accounts_by_document(session, [r.document for r in keyed if r.document])
        by_email = open_accounts_by_email(session, [r.email for r in keyed if r.email])
        account = self.target(row, by_id, by_document, by_email)
        change = self.change(row, account)
        if change is None:
            return Outcome(row.number, "unchanged")
        # Not ``asdict``: it would copy the "unchanged" marker, which is compared by identity.
        values = {f.name: getattr(change, f.name) for f in fields(change)}
        update_account(session, values.pop("account_id"), **values, done_by=done_by, now=now)
        return Outcome(row.number, "updated")
