"""Account import, in two modes, through the account services.

``create``: each row opens an account (``open_accounts``). A row whose account already
exists with the same data is *unchanged*, so the same file can run twice; one that
exists with other data is refused (update mode changes accounts).

``update``: each row finds its account by ``Id`` when the file has that column, else by
``Document`` (and ``Document Type`` when given), else by ``Email``; it changes what
differs (``update_accounts``) and leaves the rest. An empty cell keeps the current value.
A row found by e-mail may give a document to an account that has none; changing an
existing document needs the ``Id`` column.

Rows are checked in memory first, then each batch reads what it needs in a few queries
and writes each table with one statement. Rows of a chunk that name the same account run in later
waves, so they see the earlier rows exactly as if the file ran row by row.

Set-wise: a create batch's new accounts, owners, ``Credit`` entries and audit entries go in
with the database's bulk path (``open_accounts(..., bulk=True)``: one COPY per table on
PostgreSQL, one executemany on SQLite), the parser's identity checks not repeated; its
lookups are by key, one query per table (an array parameter on PostgreSQL, where the
chunk's transaction also probes indexes rather than scanning a table the import grows).
Update mode changes accounts through ``update_accounts`` (the ORM's unit of work).
``tests/bulk/row_by_row.py`` applies the same rows one service call at a time: the
reference the set-wise path is compared with, row by row, on both databases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from connector.bulk.batches import apply_batch, waves
from connector.bulk.csvio import Column, SheetRow, header_key
from connector.bulk.history import RowError
from connector.bulk.report import Outcome, failed, refusal, too_many_cells
from connector.bulk.sheet_formats import (
    DOCUMENT_TYPE_REASON,
    REQUIRED_KEY,
    REQUIRED_TO_OPEN,
    FileFormat,
    ValueProblem,
)
from connector.bulk.templates import (
    ACCOUNT_COLUMNS,
    ACCOUNT_UPDATE_COLUMNS,
    DOCUMENT_TYPE_WORDS,
    word_of,
    word_reader,
)
from connector.credit.account_changes import AccountChange, update_accounts
from connector.credit.accounts import NewAccount, open_accounts
from connector.credit.bulk_write import probe_indexes
from connector.credit.identity import (
    DOCUMENT_TYPES,
    check_document,
    normalize_company_name,
    normalize_document,
    normalize_document_type,
    normalize_email,
)
from connector.credit.lookups import (
    accounts_by_id,
    open_accounts_by_document,
    open_accounts_by_email,
)
from connector.credit.models import Account, AccountStatus
from connector.errors import Code, Conflict, ConnectorError, ValidationError, fill
from connector.money import AmountError, parse_rate_bps

MODES = ("create", "update")

# The names the account services give fields in their errors, and our fields.
_FIELD_OF = {
    "email": "email",
    "claims.email": "email",
    "document": "document",
    "documentType": "document_type",
    "companyName": "company_name",
    "creditLimit": "credit_limit",
    "tolerance": "tolerance",
    "id": "id",
}
_DEFAULT_FIELD = {"holder_exists": "email", "account_exists": "document"}
_TYPE_OF = word_reader(DOCUMENT_TYPE_WORDS)  # "Outro" is Other
_MEMO_SIZE = 10_000
_MISSING: Any = object()


@dataclass(frozen=True)
class AccountRow:
    sheet: SheetRow
    account_id: str | None
    email: str | None
    document: str | None
    document_type: str | None  # normalized: "Other" for a document given without a type
    type_given: bool
    credit_limit_cents: int | None
    tolerance_bps: int | None
    company_name: str | None = None  # None: not given (a blank cell changes nothing)

    @property
    def number(self) -> int:
        return self.sheet.number

    def key(self) -> tuple[str, ...]:
        """What names the account: its id, else its document, else its e-mail."""
        if self.account_id:
            return ("id", self.account_id)
        if self.document:
            return ("document", self.document, self.document_type or "")
        return ("email", self.email or "")


def columns_for(mode: str) -> Sequence[Column]:
    return ACCOUNT_COLUMNS if mode == "create" else ACCOUNT_UPDATE_COLUMNS


class AccountsImport:
    """Parses and applies account rows for one file (its header names the columns)."""

    def __init__(
        self,
        mode: str,
        title: Callable[[str], str],
        sheet_format: FileFormat | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.title = title
        self.format = sheet_format or FileFormat(day_first=False, decimal_comma=False)
        self.lang = self.format.lang  # whose words the reasons suggest
        # Amounts, rates and type words parsed before, by their text: a file repeats a
        # few of them on many rows, and parsing one costs more than the rest of its row.
        # Only what parsed is kept (a refusal is raised again each time); bounded by size.
        self._parsed: dict[tuple[str, str], Any] = {}

    def _memo(self, kind: str, parse: Callable[[str], Any], text: str) -> Any:
        """``parse(text)``, remembered while the memo is small (pure parsers only)."""
        key = (kind, text)
        found = self._parsed.get(key, _MISSING)
        if found is _MISSING:
            found = parse(text)
            if len(self._parsed) >= _MEMO_SIZE:
                self._parsed.clear()
            self._parsed[key] = found
        return found

    def _type_names(self) -> str:
        """The document types a file may write, ``Other`` in the file's language."""
        return ", ".join(
            word_of(DOCUMENT_TYPE_WORDS, name, self.lang) for name in DOCUMENT_TYPES.values()
        )

    # --- Parsing: each row on its own, no database ---------------------------------

    def parse(self, row: SheetRow) -> AccountRow | Outcome:
        cells = row.cells
        errors: list[RowError] = []

        def refuse(field: str, code: str, reason: str) -> None:
            errors.append(
                RowError(row.number, self.title(field), cells.get(field) or None, code, reason)
            )

        def normalized(field: str, normalize: Callable[[str], Any], code: str) -> Any:
            text = cells.get(field, "")
            if not text:
                return None
            try:
                return normalize(text)
            except ValidationError as error:
                refuse(
                    field, code, "; ".join(str(v) for v in error.fields.values()) or error.message
                )
                return None

        def amount(field: str, parse: Callable[[str], int], code: str) -> int | None:
            text = cells.get(field, "")
            if not text:
                return None
            try:
                cents: int = self._memo(field, parse, text)
                return cents
            except (AmountError, ValueProblem) as error:
                refuse(field, code, str(error))
                return None

        errors.extend(too_many_cells(row))
        email = normalized("email", normalize_email, Code.INVALID_EMAIL)
        document = normalized("document", normalize_document, Code.INVALID_DOCUMENT)
        type_text = cells.get("document_type", "")
        try:
            document_type = normalize_document_type(
                _TYPE_OF.get(self._memo("type", header_key, type_text), type_text) or None,
                document,
            )
        except ValidationError:
            reason = fill(DOCUMENT_TYPE_REASON, {"value": type_text, "names": self._type_names()})
            refuse("document_type", Code.INVALID_DOCUMENT_TYPE, reason)
            document_type = None
        try:
            check_document(document, document_type)
        except ValidationError as error:
            # Stored in English; one of identity's DOCUMENT_REASONS, so shown localized.
            refuse("document", Code.INVALID_DOCUMENT, str(error.fields["document"]))
        company_name = normalized("company_name", normalize_company_name, Code.INVALID_COMPANY_NAME)
        limit = amount("credit_limit", self.format.parse_cents, Code.INVALID_AMOUNT)
        # A rate's reason is the same everywhere (the API's too): written with the text's
        # own separator, else a point.
        tolerance = amount("tolerance", parse_rate_bps, Code.INVALID_RATE)
        account_id = cells.get("id") or None
        if self.mode == "create":
            for field in ("email", "credit_limit"):
                if not cells.get(field):
                    reason = fill(REQUIRED_TO_OPEN, {"column": self.title(field)})
                    refuse(field, Code.REQUIRED, reason)
        elif not (account_id or cells.get("document") or cells.get("email")):
            errors.append(
                RowError(
                    row.number,
                    None,
                    None,
                    Code.REQUIRED,
                    REQUIRED_KEY,
                )
            )
        if errors:
            return failed(errors)
        return AccountRow(
            row,
            account_id,
            email,
            document,
            document_type,
            bool(type_text),
            limit,
            tolerance,
            company_name,
        )

    # --- Applying: a batch of parsed rows, in the caller's transaction --------------

    def apply(
        self, session: Session, rows: Sequence[AccountRow], *, done_by: str, now: datetime
    ) -> list[Outcome]:
        """Apply rows in file order; rows naming an account already named run in a later wave."""
        outcomes: dict[int, Outcome] = {}
        probe_indexes(session)
        for wave in waves(rows, AccountRow.key):
            if self.mode == "create":
                outcomes.update(self._create(session, wave, done_by, now))
            else:
                outcomes.update(self._update(session, wave, done_by, now))
        return [outcomes[row.number] for row in rows]

    def refused(self, row: AccountRow, error: ConnectorError) -> Outcome:
        return refusal(
            row.number,
            error,
            field_of=_FIELD_OF,
            default_field=_DEFAULT_FIELD.get(error.code),
            title=self.title,
            cells=row.sheet.cells,
        )

    def _create(
        self, session: Session, rows: Sequence[AccountRow], done_by: str, now: datetime
    ) -> dict[int, Outcome]:
        outcomes: dict[int, Outcome] = {}
        existing = existing_accounts(session, rows)
        to_open: list[AccountRow] = []
        for row in rows:
            account = existing.get(row.key())
            if account is None or account.status != AccountStatus.OPEN:
                to_open.append(row)
            else:
                outcomes[row.number] = self.outcome_of_existing(row, account)
        requests = [new_account(row) for row in to_open]
        results = apply_batch(
            session,
            requests,
            lambda part: open_accounts(
                session, part, done_by=done_by, now=now, normalized=True, bulk=True
            ),
        )
        for row, result in zip(to_open, results, strict=True):
            outcomes[row.number] = (
                self.refused(row, result)
                if isinstance(result, ConnectorError)
                else Outcome(row.number, "created")
            )
        return outcomes

    def outcome_of_existing(self, row: AccountRow, account: Account) -> Outcome:
        """A create row whose account is open already: unchanged, or refused if it differs."""
        different = self._differences(row, account)
        if not different:
            return Outcome(row.number, "unchanged")
        named = "id" if row.account_id else "document" if row.document else "e-mail"
        error = Conflict(
            "an account with this {key} already exists ({account}) with another "
            "{columns}; use update mode to change it",
            code=Code.ACCOUNT_EXISTS,
            key=named,
            account=account.id,
            columns=", ".join(self.title(f) for f in different),
        )
        return refusal(
            row.number,
            error,
            field_of={},
            default_field=different[0],
            title=self.title,
            cells=row.sheet.cells,
        )

    def _differences(self, row: AccountRow, account: Account) -> list[str]:
        """The fields in which an existing account differs from a create row."""
        different = []
        if row.email is not None and row.email != account.email:
            different.append("email")
        if row.account_id and row.document is not None and row.document != account.document:
            different.append("document")
        if row.document is not None and row.document_type != account.document_type:
            different.append("document_type")
        if row.credit_limit_cents != account.credit_limit_cents:
            different.append("credit_limit")
        if (row.tolerance_bps or 0) != account.tolerance_bps:
            different.append("tolerance")
        if row.company_name is not None and row.company_name != account.company_name:
            different.append("company_name")
        return different

    def _update(
        self, session: Session, rows: Sequence[AccountRow], done_by: str, now: datetime
    ) -> dict[int, Outcome]:
        outcomes: dict[int, Outcome] = {}
        by_id = accounts_by_id(session, [r.account_id for r in rows if r.account_id])
        by_document = open_accounts_by_document(
            session, [r.document for r in rows if r.document and not r.account_id]
        )
        by_email = open_accounts_by_email(
            session, [r.email for r in rows if r.email and not r.account_id]
        )
        changed_rows: list[AccountRow] = []
        changes: list[AccountChange] = []
        for row in rows:
            try:
                account = self.target(row, by_id, by_document, by_email)
                change = self.change(row, account)
            except ConnectorError as error:
                outcomes[row.number] = self.refused(row, error)
                continue
            if change is None:
                outcomes[row.number] = Outcome(row.number, "unchanged")
            else:
                changed_rows.append(row)
                changes.append(change)
        results = apply_batch(
            session, changes, lambda part: update_accounts(session, part, done_by=done_by, now=now)
        )
        for row, result in zip(changed_rows, results, strict=True):
            outcomes[row.number] = (
                self.refused(row, result)
                if isinstance(result, ConnectorError)
                else Outcome(row.number, "updated")
            )
        return outcomes

    def target(
        self,
        row: AccountRow,
        by_id: dict[str, Account],
        by_document: dict[str, list[Account]],
        by_email: dict[str, Account],
    ) -> Account:
        """The account a row names, or the error that says why none fits."""
        if row.account_id:
            account = by_id.get(row.account_id)
            if account is None:
                raise _not_found("no account has the id {account}", "id", account=row.account_id)
        elif row.document:
            candidates = by_document.get(row.document, [])
            if row.type_given:
                candidates = [a for a in candidates if a.document_type == row.document_type]
            if len(candidates) > 1:
                raise ValidationError(
                    "several open accounts have this document; give its Document Type",
                    fields={"documentType": "required to tell the accounts apart"},
                )
            if candidates:
                account = candidates[0]
            elif row.email and row.email in by_email:
                account = by_email[row.email]
                if account.document is not None:
                    raise Conflict(
                        "the account of {email} ({account}) has another document; "
                        "to change a document, add the Id column",
                        code=Code.DOCUMENT_MISMATCH,
                        fields={"document": "differs from the account's"},
                        email=row.email,
                        account=account.id,
                    )
            else:
                raise _not_found("no open account has this document", "document")
        else:
            account = by_email.get(row.email or "")
            if account is None:
                raise _not_found("no open account belongs to this e-mail", "email")
        if account.status != AccountStatus.OPEN:
            raise Conflict(
                "account {account} is closed and cannot be changed",
                code=Code.ACCOUNT_CLOSED,
                fields={"id": "closed"} if row.account_id else {},
                account=account.id,
            )
        return account

    def change(self, row: AccountRow, account: Account) -> AccountChange | None:
        """What the row changes in ``account``; None when it changes nothing."""
        values: dict[str, Any] = {}
        if row.email is not None and row.email != account.email:
            values["email"] = row.email
        if row.document is not None and row.document != account.document:
            values["document"] = row.document
        if row.type_given and row.document_type != account.document_type:
            values["document_type"] = row.document_type
        if (
            row.credit_limit_cents is not None
            and row.credit_limit_cents != account.credit_limit_cents
        ):
            values["credit_limit_cents"] = row.credit_limit_cents
        if row.tolerance_bps is not None and row.tolerance_bps != account.tolerance_bps:
            values["tolerance_bps"] = row.tolerance_bps
        if row.company_name is not None and row.company_name != account.company_name:
            values["company_name"] = row.company_name
        return AccountChange(account_id=account.id, **values) if values else None


def new_account(row: AccountRow) -> NewAccount:
    """What a create row asks ``open_accounts`` for."""
    return NewAccount(
        email=row.email or "",
        credit_limit_cents=row.credit_limit_cents or 0,
        tolerance_bps=row.tolerance_bps or 0,
        document=row.document,
        document_type=row.document_type,
        account_id=row.account_id,
        company_name=row.company_name,
    )


def _not_found(template: str, field: str, **values: Any) -> ConnectorError:
    return Conflict(template, code=Code.ACCOUNT_NOT_FOUND, fields={field: "not found"}, **values)


def existing_accounts(
    session: Session, rows: Sequence[AccountRow]
) -> dict[tuple[str, ...], Account]:
    """The accounts that create rows name, by the rows' keys, read in three queries."""
    found: dict[tuple[str, ...], Account] = {}
    by_id = accounts_by_id(session, [r.account_id for r in rows if r.account_id])
    found.update({("id", i): a for i, a in by_id.items()})
    by_document = open_accounts_by_document(
        session, [r.document for r in rows if r.document and not r.account_id]
    )
    for document, accounts in by_document.items():
        for account in accounts:
            found[("document", document, account.document_type or "")] = account
    by_email = open_accounts_by_email(
        session, [r.email for r in rows if r.email and not r.document and not r.account_id]
    )
    found.update({("email", e): a for e, a in by_email.items()})
    return found
