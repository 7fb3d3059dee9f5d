"""Auto-settle due reservations; expire those past their expiration date.

Each reservation is handled in its own transaction under its account's lock, and the
service re-checks the state under that lock, so a gateway settling the same purchase at
the same moment, or a second scheduler, can never settle it twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select

from connector.credit.models import PENDING, Reservation
from connector.credit.reservations import release_reservation, settle_reservation
from connector.credit.settings import load_store_settings
from connector.db import Database
from connector.errors import ConnectorError
from connector.ids import utcnow

log = logging.getLogger(__name__)


def _due_ids(db: Database, column: Any, now: datetime, limit: int) -> list[str]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(Reservation.id)
                .where(Reservation.status == PENDING, column <= now)
                .order_by(column)
                .limit(limit)
            )
        )


def settle_due_reservations(
    db: Database, *, now: datetime | None = None, batch_size: int = 1000
) -> int:
    """Settle every pending reservation whose auto-settle moment has come."""
    now = now or utcnow()
    settled = 0
    while True:
        ids = _due_ids(db, Reservation.auto_settle_at, now, batch_size)
        if not ids:
            return settled
        with db.transaction() as session:
            settings = load_store_settings(session)
        for reservation_id in ids:
            try:
                with db.transaction() as session:
                    result = settle_reservation(session, reservation_id, settings=settings, now=now)
                settled += bool(result.invoices)  # settled meanwhile by the gateway or a twin
            except ConnectorError as exc:  # refused by a rule: leave it for the staff
                log.warning("auto-settle of %s refused: %s", reservation_id, exc.message)
        if len(ids) < batch_size:
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
