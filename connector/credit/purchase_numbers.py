"""Purchase numbers: the store-wide, increasing number that the invoices of one purchase
share (``V1001-01``, ``V1001-02``; ``rules.friendly_id``).

PostgreSQL takes them from a sequence, which never waits for another transaction (a
number taken by a transaction that rolls back is skipped, never handed out twice). SQLite
has one writer at a time (``BEGIN IMMEDIATE``), so the highest number stored plus one is
free. A job that settles many purchases in one transaction takes a block of numbers at
once (``reserve_purchase_numbers``) instead of one round trip per purchase.
"""

from __future__ import annotations

from collections import deque

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.credit.models import PURCHASE_NUMBERS, Reservation

FIRST_PURCHASE_NUMBER = 1001
_BLOCK = "purchase_numbers.block"  # numbers taken for this session, not yet used
_TOP = "purchase_numbers.top"  # the highest number this session handed out (SQLite)


def reserve_purchase_numbers(session: Session, count: int) -> None:
    """Take ``count`` numbers now, for the purchases this transaction is about to invoice."""
    if count > 0:
        session.info.setdefault(_BLOCK, deque()).extend(_take(session, count))


def next_purchase_number(session: Session) -> int:
    """A number no other purchase has: from the reserved block, else a new one."""
    block: deque[int] | None = session.info.get(_BLOCK)
    if block:
        return block.popleft()
    return _take(session, 1)[0]


def _take(session: Session, count: int) -> list[int]:
    if session.get_bind().dialect.name == "postgresql":
        numbers = select(PURCHASE_NUMBERS.next_value()).select_from(func.generate_series(1, count))
        return [int(n) for n in session.scalars(numbers)]
    stored = session.scalar(select(func.max(Reservation.purchase_number)))
    top = max(stored or FIRST_PURCHASE_NUMBER - 1, session.info.get(_TOP, 0))
    session.info[_TOP] = top + count
    return list(range(top + 1, top + count + 1))
