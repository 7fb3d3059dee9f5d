"""Manual adjustments: ``Statement`` entries written by staff, idempotent by entry id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from connector.credit.ledger import ensure_open, lock_account, post_entry
from connector.credit.models import ORIGIN_STATEMENT, StatementEntry
from connector.errors import Conflict, ValidationError
from connector.ids import utcnow

_MAX_ID = 64


def adjust_balance(
    session: Session,
    account_id: str,
    value_cents: int,
    *,
    entry_id: str | None = None,
    description: str | None = None,
    done_by: str | None = None,
    now: datetime | None = None,
) -> StatementEntry:
    """Add (or, negative, take) ``value`` to an account's balance as a manual entry.

    The entry id is the idempotency key: repeating it with the same account and value
    returns the first entry; with anything else, it is a conflict.
    """
    now = now or utcnow()
    if value_cents == 0:
        raise ValidationError("an adjustment of zero changes nothing", fields={"value": "!= 0"})
    if entry_id is not None and not 0 < len(entry_id) <= _MAX_ID:
        raise ValidationError("invalid statement id", fields={"statementId": "1-64 characters"})
    account = lock_account(session, account_id)
    if entry_id is not None:
        existing = session.get(StatementEntry, entry_id)
        if existing is not None:
            if (existing.account_id, existing.origin, existing.value_cents) == (
                account_id,
                ORIGIN_STATEMENT,
                value_cents,
            ):
                return existing
            raise Conflict(
                f"statement {entry_id} already exists with other values",
                code="idempotency_conflict",
            )
    ensure_open(account)
    entry = post_entry(
        session,
        account,
        ORIGIN_STATEMENT,
        value_cents,
        now=now,
        done_by=done_by,
        entry_id=entry_id,
        details={"description": description} if description else {},
    )
    session.flush()
    return entry
