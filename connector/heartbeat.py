"""The scheduler's heartbeat: a row each scheduler process updates, read by ``/ready``.

A scheduler that is stuck or gone stops beating; the row's age tells a load balancer
(``/ready``) and Prometheus (``connector_scheduler_heartbeat_age_seconds``) so. One row
per machine, keyed by its host name, so schedulers on several machines each keep theirs.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from connector.db import Base

BEAT_SECONDS = 15
# Four beats missed: longer than any pause a busy database gives a small write (the
# SQLite busy timeout is 30 s), shorter than a load balancer should wait to notice.
STALE_AFTER = timedelta(seconds=60)


class SchedulerHeartbeat(Base):
    __tablename__ = "scheduler_heartbeats"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]


def beat(session: Session, *, started_at: datetime, now: datetime) -> None:
    """Record that this process's scheduler is alive now."""
    host, pid = socket.gethostname()[:255], os.getpid()
    changed = session.execute(
        update(SchedulerHeartbeat)
        .where(SchedulerHeartbeat.host == host)
        .values(pid=pid, started_at=started_at, beat_at=now)
    )
    if not changed.rowcount:  # type: ignore[attr-defined]
        session.add(SchedulerHeartbeat(host=host, pid=pid, started_at=started_at, beat_at=now))


def last_beat(session: Session) -> datetime | None:
    """The newest beat of any scheduler, or None if none ever beat."""
    return session.scalar(select(func.max(SchedulerHeartbeat.beat_at)))
