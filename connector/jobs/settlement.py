"""Auto-settle due reservations; expire those past their expiration date.

Every settlement runs under its account's lock and the service re-checks the state under
that lock, so a gateway settling the same purchase at the same moment, or a second
scheduler, can never settle it twice.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Row, select, tuple_
from sqlalchemy.exc import IntegrityError

from connector.clock import utcnow
from connector.credit.batch_settlement import settle_due_batch
from connector.credit.ledger import lock_accounts
from connector.credit.models import Reservation, ReservationStatus
from connector.credit.purchase_numbers import reserve_purchase_numbers
from connector.credit.reservations import release_reservation
from connector.credit.settings import StoreSettings, load_store_settings
from connector.credit.settlements import settle_reservation
from connector.db import Database
from connector.errors import ConnectorError
from connector.metrics import CREDIT_SETTLED_CENTS

log = logging.getLogger(__name__)


def _due_ids(db: Database, column: Any, now: datetime, limit: int) -> list[str]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(Reservation.id)
                .where(Reservation.status == ReservationStatus.PENDING, column <= now)
                .order_by(column)
                .limit(limit)
            )
        )


def _due_for_settlement(
    db: Database, now: datetime, limit: int, after: tuple[datetime, str] | None
) -> list[Row[tuple[str, str, datetime]]]:
    """Due reservations in (auto_settle_at, id) order, after the last one already seen."""
    query = select(Reservation.id, Reservation.account_id, Reservation.auto_settle_at).where(
        Reservation.status == ReservationStatus.PENDING, Reservation.auto_settle_at <= now
    )
    if after is not None:
        query = query.where(tuple_(Reservation.auto_settle_at, Reservation.id) > tuple_(*after))
    query = query.order_by(Reservation.auto_settle_at, Reservation.id).limit(limit)
    with db.transaction(read_only=True) as session:
        return list(session.execute(query))


def _settle_group(
    db: Database,
    group: list[Row[tuple[str, str, datetime]]],
    *,
    settings: StoreSettings,
    now: datetime,
    one_by_one: bool = False,
) -> int:
    """Settle a few accounts' due reservations in one transaction.

    The accounts are locked first, in id order, so two schedulers never deadlock; each
    settlement re-checks its reservation under that lock, so none is settled twice. When
    a rule refuses one (rare), the group is redone with a savepoint each, so the refused
    one is rolled back alone and passed over.
    """
    settled = 0
    try:
        with db.transaction() as session:
            lock_accounts(session, {row.account_id for row in group})
            # One round trip for the group's purchase numbers, not one per purchase.
            reserve_purchase_numbers(session, len(group))
            for row in group:
                try:
                    with session.begin_nested() if one_by_one else nullcontext():
                        result = settle_reservation(session, row.id, settings=settings, now=now)
                except ConnectorError as exc:
                    if not one_by_one:
                        raise
                    log.warning("auto-settle of %s refused: %s", row.id, exc.message)
                    continue  # refused by a rule: leave it for the staff
                settled += bool(result.invoices)  # settled meanwhile by the gateway or a twin
    except ConnectorError:
        if one_by_one:
            raise
        return _settle_group(db, group, settings=settings, now=now, one_by_one=True)
    return settled


def _settle_set(
    db: Database,
    group: list[Row[tuple[str, str, datetime]]],
    *,
    settings: StoreSettings,
    now: datetime,
) -> int:
    """Settle a group set-wise (``settle_due_batch``) in one transaction; what it leaves,
    and the whole group when the database or a rule refuses the batch, goes through
    ``_settle_group``: ``settle_reservation`` one by one, as the general path does."""
    try:
        with db.transaction() as session:
            batch = settle_due_batch(
                session, [(row.id, row.account_id) for row in group], settings=settings, now=now
            )
    except (ConnectorError, IntegrityError) as exc:
        log.warning("auto-settle of %d at once refused (%s); one by one", len(group), exc)
        return _settle_group(db, group, settings=settings, now=now)
    # Counted here: the ORM's flush, which counts the general path's invoices, saw none.
    CREDIT_SETTLED_CENTS.inc(batch.settled_cents)
    left = set(batch.left)
    rest = [row for row in group if row.id in left]
    return batch.settled + (_settle_group(db, rest, settings=settings, now=now) if rest else 0)


def settle_due_reservations(
    db: Database,
    *,
    now: datetime | None = None,
    batch_size: int = 4000,
    group_size: int = 500,
    threads: int = 4,
) -> int:
    """Settle every pending reservation whose auto-settle moment has come.

    Each group of settlements is written set-wise and committed at once (``_settle_set``),
    and a few groups run at once on their own connections, so the job is not paced by one
    round trip after another; a refused reservation is passed over, never retried in a
    loop.
    """
    now = now or utcnow()
    settled = 0
    after: tuple[datetime, str] | None = None
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="auto-settle") as pool:
        while True:
            rows = _due_for_settlement(db, now, batch_size, after)
            if not rows:
                return settled
            after = (rows[-1].auto_settle_at, rows[-1].id)
            with db.transaction(read_only=True) as session:
                settings = load_store_settings(session)
            rows.sort(key=lambda row: row.account_id)  # one account's reservations together
            groups = [rows[i : i + group_size] for i in range(0, len(rows), group_size)]
            settle = partial(_settle_set, db, settings=settings, now=now)
            settled += sum(pool.map(settle, groups))
            if len(rows) < batch_size:
                return settled


def expire_reservations(
    db: Database, *, now: datetime | None = None, batch_size: int = 1000
) -> int:
    """Release pending reservations whose expiration date has passed."""
    now = now or utcnow()
    expired = 0
    while True:
        ids = _due_ids(db, Reservation.expires_at, now, batch_size)
        if not ids:
            return expired
        for reservation_id in ids:
            with db.transaction() as session:
                release_reservation(session, reservation_id, expired=True, now=now)
            expired += 1
        if len(ids) < batch_size:
            return expired
