"""An account's statement: the entries of a period with its balances, and manual
adjustments (``Statement`` entries written by staff, idempotent by entry id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from connector import audit
from connector.clock import utcnow
from connector.credit.account_search import get_account
from connector.credit.ledger import ensure_open, lock_account, post_entry
from connector.credit.models import Origin, StatementEntry
from connector.errors import Code, Conflict, Reason, ValidationError

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
                Origin.STATEMENT,
                value_cents,
            ):
                return existing
            raise Conflict(
                "statement {entry} already exists with other values",
                code=Code.IDEMPOTENCY_CONFLICT,
                entry=entry_id,
            )
    ensure_open(account)
    entry = post_entry(
        session,
        account,
        Origin.STATEMENT,
        value_cents,
        now=now,
        done_by=done_by,
        entry_id=entry_id,
        details={"description": description} if description else {},
    )
    session.flush()
    audit.record(
        session,
        audit.Change(
            "account.adjusted",
            "account",
            account.id,
            account.id,
            after={"value_cents": value_cents, "statement_id": entry.id},
            note=description,
        ),
        at=now,
    )
    return entry


MAX_STATEMENT_ENTRIES = 10_000


@dataclass(frozen=True)
class Statement:
    """An account's entries in a period, with the balance before, within and now.

    Balances count every entry but ``Credit`` (which moves the limit, not the balance),
    so ``previous + interval`` is the balance at the end of the period and, for a period
    that ends now, equals ``current``.
    """

    entries: list[StatementEntry]
    previous_cents: int
    interval_cents: int
    current_cents: int

    @property
    def closing_cents(self) -> int:
        """The balance at the end of the period."""
        return self.previous_cents + self.interval_cents


def account_statement(
    session: Session,
    account_id: str,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    max_entries: int = MAX_STATEMENT_ENTRIES,
    newest_first: bool = False,
) -> Statement:
    """The entries of ``[start, end]`` (oldest first unless ``newest_first``), or a
    refusal when there are too many.

    A statement is never cut short silently: a period with more than ``max_entries``
    entries is refused, naming the parameter to narrow.
    """
    account = get_account(session, account_id)
    in_period: list[ColumnElement[bool]] = [StatementEntry.account_id == account_id]
    if start is not None:
        in_period.append(StatementEntry.created_at >= start)
    if end is not None:
        in_period.append(StatementEntry.created_at <= end)
    entries = list(
        session.scalars(
            select(StatementEntry)
            .where(*in_period)
            .order_by(
                *(
                    (StatementEntry.created_at.desc(), StatementEntry.id.desc())
                    if newest_first
                    else (StatementEntry.created_at, StatementEntry.id)
                )
            )
            .limit(max_entries + 1)
        )
    )
    if len(entries) > max_entries:
        raise ValidationError(
            "the period holds more than {limit} entries; ask for a shorter one",
            code=Code.PERIOD_TOO_LONG,
            fields={
                "dateFrom": Reason("the period holds more than {limit} entries", limit=max_entries)
            },
            limit=max_entries,
        )

    previous = 0
    if start is not None:  # the balance before the period: every non-Credit entry before it
        previous = int(
            session.scalar(
                select(func.coalesce(func.sum(StatementEntry.value_cents), 0)).where(
                    StatementEntry.account_id == account_id,
                    StatementEntry.origin != Origin.CREDIT,
                    StatementEntry.created_at < start,
                )
            )
            or 0
        )
    interval = sum(e.value_cents for e in entries if e.origin != Origin.CREDIT)
    return Statement(entries, previous, interval, account.balance_cents)
