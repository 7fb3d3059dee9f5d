"""The one scheduler process: runs the jobs on an interval until its parent goes away."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler

from connector.clock import utcnow
from connector.config import Settings
from connector.db import Database
from connector.http_client import HttpClient
from connector.jobs.imports import IMPORT_INTERVAL_SECONDS, run_imports
from connector.jobs.settlement import expire_reservations, settle_due_reservations
from connector.notify.notifications import send_notifications
from connector.notify.outbox import deliver_pending
from connector.payments.callbacks import deliver_due_callbacks

log = logging.getLogger(__name__)

JOB_INTERVAL_SECONDS = 60
# Callbacks are polled often: the homologation suite expects an async answer within 15 s.
CALLBACK_INTERVAL_SECONDS = 2
MAIL_INTERVAL_SECONDS = 10


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


def build_scheduler(db: Database, settings: Settings) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    client = HttpClient()
    jobs: dict[str, tuple[int, Callable[[], int]]] = {
        "auto_settle": (JOB_INTERVAL_SECONDS, lambda: settle_due_reservations(db)),
        "expire_reservations": (JOB_INTERVAL_SECONDS, lambda: expire_reservations(db)),
        "deliver_callbacks": (
            CALLBACK_INTERVAL_SECONDS,
            lambda: deliver_due_callbacks(db, settings, client=client),
        ),
        "bulk_imports": (IMPORT_INTERVAL_SECONDS, lambda: run_imports(db)),
        "notifications": (
            JOB_INTERVAL_SECONDS,
            lambda: send_notifications(db, public_url=settings.public_url),
        ),
        "deliver_mail": (MAIL_INTERVAL_SECONDS, lambda: deliver_pending(db, settings.smtp_url)),
    }
    for name, (interval, run) in jobs.items():
        scheduler.add_job(
            _job(name, run),
            "interval",
            seconds=interval,
            id=name,
            max_instances=1,
            coalesce=True,
            next_run_time=utcnow(),  # a first run at start, then on the interval
        )
    return scheduler


def run_scheduler(db: Database, settings: Settings, parent_pid: int | None = None) -> None:
    """Run the jobs until SIGTERM/SIGINT, or until ``parent_pid`` is no longer our parent."""
    scheduler = build_scheduler(db, settings)
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
