"""The one scheduler process: runs the jobs on an interval until its parent goes away."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler

from connector.config import Settings
from connector.db import Database
from connector.ids import utcnow
from connector.jobs.imports import IMPORT_INTERVAL_SECONDS, run_imports
from connector.jobs.settlement import expire_reservations, settle_due_reservations

log = logging.getLogger(__name__)

JOB_INTERVAL_SECONDS = 60


def _job(name: str, run: Callable[[], int]) -> Callable[[], None]:
    def wrapped() -> None:
        try:
            done = run()
        except Exception:  # a failed run is retried at the next tick
            log.exception("job %s failed", name)
            return
        if done:
            log.info("job %s: %d done", name, done)

    return wrapped


def build_scheduler(db: Database) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    jobs: dict[str, tuple[Callable[[], int], int]] = {
        "auto_settle": (lambda: settle_due_reservations(db), JOB_INTERVAL_SECONDS),
        "expire_reservations": (lambda: expire_reservations(db), JOB_INTERVAL_SECONDS),
        "bulk_imports": (lambda: run_imports(db), IMPORT_INTERVAL_SECONDS),
    }
    for name, (run, seconds) in jobs.items():
        scheduler.add_job(
            _job(name, run),
            "interval",
            seconds=seconds,
            id=name,
            max_instances=1,
            coalesce=True,
            next_run_time=utcnow(),  # a first run at start, then on the interval
        )
    return scheduler


def run_scheduler(settings: Settings, parent_pid: int | None = None) -> None:
    """Run the jobs until SIGTERM/SIGINT, or until ``parent_pid`` is no longer our parent."""
    db = Database(settings.database_url)
    scheduler = build_scheduler(db)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    scheduler.start()
    log.info("scheduler started (pid %d)", os.getpid())
    while not stop.wait(1.0):
        if parent_pid is not None and os.getppid() != parent_pid:
            log.warning("server process is gone; scheduler stopping")
            break
    scheduler.shutdown(wait=True)
    db.dispose()
