"""Overdue blocking: a store may deny purchases to accounts that are late paying.

With ``block_purchases_when_overdue``, an account with an invoice overdue for more than
``overdue_grace_days`` days is denied at checkout (code ``overdue_invoices``), on both
authorization paths, and its purchase conditions say so. "Overdue for more than ``g``
days on the store's ``today``" is ``rules.is_overdue`` on the day ``today - g``: with no
grace, from the first day after the due date.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from connector.credit import rules
from connector.credit.models import Invoice
from connector.credit.settings import StoreSettings
from connector.errors import Code, CreditDenied


def blocking_day(settings: StoreSettings, now: datetime) -> date | None:
    """The day on which an invoice overdue blocks its account now; None: the store never
    blocks."""
    if not settings.block_purchases_when_overdue:
        return None
    return settings.today(now) - timedelta(days=settings.overdue_grace_days)


def blocked(account_id: Any, day: Any) -> ColumnElement[bool]:
    """Whether the account (an id or an id column) has an invoice overdue on ``day`` (a
    date or a bound parameter): the SQL both authorization paths run."""
    late = rules.is_overdue(Invoice.status, Invoice.due_date, day)
    return exists(select(Invoice.id).where(Invoice.account_id == account_id, late))


def is_blocked(session: Session, account_id: str, settings: StoreSettings, now: datetime) -> bool:
    day = blocking_day(settings, now)
    return day is not None and bool(session.scalar(select(blocked(account_id, day))))


def ensure_not_blocked(
    session: Session, account_id: str, settings: StoreSettings, now: datetime
) -> None:
    """Deny a purchase of an account that is late paying, when the store blocks them."""
    if is_blocked(session, account_id, settings, now):
        raise CreditDenied(
            "the account has invoices overdue for more than {days} day(s)",
            code=Code.OVERDUE_INVOICES,
            days=settings.overdue_grace_days,
        )
