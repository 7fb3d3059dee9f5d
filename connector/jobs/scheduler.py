"""The one scheduler process: runs the jobs on an interval until its parent goes away.

A run is logged when it did something (``job done`` with its count) or failed, never on
a tick that found nothing to do (APScheduler's own "Running job" lines are quieted in
``connector.logs``). Every run, its time and how late it started are counted for
``/metrics``; the heartbeat job writes the row ``/ready`` reads.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobSubmissionEvent,
)
from apscheduler.schedulers.background import BackgroundScheduler

from connector import audit, heartbeat, metrics
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
    """A job's run: counted, timed, and logged when it did something or failed."""
    runs_ok, runs_failed = (
        metrics.JOB_RUNS.labels(name, "ok"),
        metrics.JOB_RUNS.labels(name, "failed"),
    )
    items, timer = metrics.JOB_ITEMS.labels(name), metrics.JOB_SECONDS.labels(name)

    def run_job() -> None:
        started = time.perf_counter()
        try:
            with audit.acting_as(audit.JOB, name):
                done = run()
        except Exception:  # a failed run is retried at the next tick
            seconds = time.perf_counter() - started
            runs_failed.inc()
            timer.observe(seconds)
            log.exception("job failed", extra={"job": name, "duration_ms": _ms(seconds)})
            return
        seconds = time.perf_counter() - started
        runs_ok.inc()
        timer.observe(seconds)
        if done:
            items.inc(done)
            log.info("job done", extra={"job": name, "count": done, "duration_ms": _ms(seconds)})

    run_job.__name__ = run_job.__qualname__ = f"job_{name}"  # APScheduler's name for it
    return run_job


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _on_event(event: JobEvent) -> None:
    """How late each run started; the runs APScheduler skipped or missed."""
    if isinstance(event, JobSubmissionEvent) and event.code == EVENT_JOB_SUBMITTED:
        scheduled = max(event.scheduled_run_times)
        lag = (utcnow() - scheduled).total_seconds()
        metrics.JOB_LAG_SECONDS.labels(event.job_id).observe(max(lag, 0.0))
    elif event.code == EVENT_JOB_MAX_INSTANCES:
        # The previous run still goes (a long import): normal, counted, not logged.
        metrics.JOB_RUNS.labels(event.job_id, "skipped").inc()
    elif event.code == EVENT_JOB_MISSED:
        metrics.JOB_RUNS.labels(event.job_id, "missed").inc()
        log.warning("job run missed", extra={"job": event.job_id})


def build_scheduler(db: Database, settings: Settings) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    client = HttpClient()
    started_at = utcnow()

    def beat() -> int:
        with db.transaction() as session:
            heartbeat.beat(session, started_at=started_at, now=utcnow())
        return 0  # a beat is not news: never logged

    jobs: dict[str, tuple[int, Callable[[], int]]] = {
        "heartbeat": (heartbeat.BEAT_SECONDS, beat),
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
    scheduler.add_listener(
        _on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED
    )
    metrics.count_the_ledger()
    return scheduler


def run_scheduler(db: Database, settings: Settings, parent_pid: int | None = None) -> None:
    """Run the jobs until SIGTERM/SIGINT, or until ``parent_pid`` is no longer our parent."""
    scheduler = build_scheduler(db, settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    scheduler.start()
    log.info("scheduler started", extra={"pid": os.getpid(), "jobs": len(scheduler.get_jobs())})
    while not stop.wait(1.0):
        if parent_pid is not None and os.getppid() != parent_pid:
            log.warning("server process is gone; scheduler stopping")
            break
    scheduler.shutdown(wait=True)
    log.info("scheduler stopped", extra={"pid": os.getpid()})
