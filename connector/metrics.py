"""What ``/metrics`` shows, in Prometheus' format (``prometheus-client``).

Counters and histograms are counted where things happen: requests at the HTTP edge
(``connector.ops``), scheduled jobs in the scheduler (``connector.jobs.scheduler``), and
the ledger's reservations, invoices and import rows as the ORM commits them (the session
events below; the express authorization writes with one statement of its own, so its
entrance counts what it answers: ``count_express_answer``). Gauges of pending work,
and the rows imported (the import history keeps them), are read from the database when
Prometheus scrapes, so they are true whichever process did the work, a CLI import
included.

Under ``connector serve`` every granian worker and the scheduler are processes of their
own: ``PROMETHEUS_MULTIPROC_DIR`` (set by ``serve``, emptied at its start) holds each
process's values in a memory-mapped file, and a scrape sums them. Counting is a write to
that process's own file under a lock no other process takes, so it costs a request a few
microseconds. Without the folder (tests, ``flask run``) the values are this process's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from connector.bulk.history import ImportJob
from connector.clock import utcnow
from connector.credit.models import Invoice, Reservation
from connector.db import Database
from connector.heartbeat import last_beat
from connector.notify.outbox import MAX_ATTEMPTS, OutboxMail
from connector.payments.models import CallbackStatus, PaymentCallback

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# This process's own values; a scrape under ``serve`` reads every process's files instead.
REGISTRY = CollectorRegistry(auto_describe=True)

# Latency buckets around what the service does: an express approval takes ~1 ms, a
# page tens of ms, an export seconds.
_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_JOB_SECONDS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)

HTTP_REQUESTS = Counter(
    "connector_http_requests",
    "HTTP requests answered, by method, URL rule (never the raw path) and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "connector_http_request_duration_seconds",
    "Time to answer a request (to its headers: a streamed export's body is not timed).",
    ["method", "route"],
    buckets=_SECONDS,
    registry=REGISTRY,
)
AUTHORIZATIONS = Counter(
    "connector_authorizations",
    "Answers to the protocol's POST /payments, by result (approved, denied, undefined, "
    "or error for a refused request) and code; a repeated paymentId is answered again.",
    ["result", "code"],
    registry=REGISTRY,
)
CREDIT_RESERVED_CENTS = Counter(
    "connector_credit_reserved_cents",
    "Credit reserved by approved purchases and pre-authorizations, in cents.",
    registry=REGISTRY,
)
CREDIT_SETTLED_CENTS = Counter(
    "connector_credit_settled_cents",
    "Credit settled into invoices (the value of the invoices issued), in cents.",
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "connector_job_runs",
    "Scheduled job runs, by job and outcome: ok, failed, skipped (the previous run was "
    "still going) or missed (the scheduler was too late to run it at all).",
    ["job", "outcome"],
    registry=REGISTRY,
)
JOB_ITEMS = Counter(
    "connector_job_items",
    "What the jobs did: reservations settled or expired, callbacks and mails sent, ...",
    ["job"],
    registry=REGISTRY,
)
JOB_SECONDS = Histogram(
    "connector_job_duration_seconds",
    "How long a job run took.",
    ["job"],
    buckets=_JOB_SECONDS,
    registry=REGISTRY,
)
JOB_LAG_SECONDS = Histogram(
    "connector_job_lag_seconds",
    "How late a job run started after its scheduled moment.",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0),
    registry=REGISTRY,
)


class PendingWork(Collector):
    """Gauges of work waiting, read from the database in one snapshot at scrape time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        with self.db.transaction(read_only=True) as session:
            waiting = PaymentCallback.status == CallbackStatus.WAITING
            callbacks, oldest_callback = session.execute(
                select(func.count(), func.min(PaymentCallback.created_at)).where(waiting)
            ).one()
            unsent = OutboxMail.sent_at.is_(None)
            mails, oldest_mail = session.execute(
                select(func.count(), func.min(OutboxMail.created_at)).where(
                    unsent, OutboxMail.attempts < MAX_ATTEMPTS
                )
            ).one()
            beat = last_beat(session)
            # Imports record their rows per chunk, and their history is kept: the sum is
            # a counter of every row imported, from the API, the admin or the CLI alike.
            rows = session.execute(
                select(ImportJob.kind, func.coalesce(func.sum(ImportJob.rows_done), 0)).group_by(
                    ImportJob.kind
                )
            ).all()
        yield _gauge(
            "connector_callbacks_pending", "Callbacks to the gateway not yet delivered.", callbacks
        )
        yield _gauge(
            "connector_callbacks_oldest_pending_age_seconds",
            "Age of the oldest callback not yet delivered (0 when none waits).",
            _age(now, oldest_callback),
        )
        yield _gauge("connector_outbox_pending", "Mails in the outbox still to send.", mails)
        yield _gauge(
            "connector_outbox_oldest_pending_age_seconds",
            "Age of the oldest mail still to send (0 when none waits).",
            _age(now, oldest_mail),
        )
        yield _gauge(
            "connector_scheduler_heartbeat_age_seconds",
            "Seconds since a scheduler last beat (-1: none ever did).",
            -1.0 if beat is None else _age(now, beat),
        )
        imported = CounterMetricFamily(
            "connector_import_rows",
            "CSV rows processed by imports (dry runs too), by kind; rate() gives rows per second.",
            labels=["kind"],
        )
        for kind, done in rows:
            imported.add_metric([kind], float(done))
        yield imported


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _age(now: datetime, since: datetime | None) -> float:
    if since is None:
        return 0.0
    if since.tzinfo is None:  # an aggregate on SQLite comes back naive (UTC)
        since = since.replace(tzinfo=now.tzinfo)
    return max((now - since).total_seconds(), 0.0)


class _Own(Collector):
    """This process's counters, for a scrape outside ``serve``."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def exposition(db: Database) -> bytes:
    """Every metric in Prometheus' text format: all processes' counters, the gauges now."""
    registry = CollectorRegistry(auto_describe=False)
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Own())
    registry.register(PendingWork(db))
    return generate_latest(registry)


# The ledger, counted as the ORM commits it: amounts a flush wrote wait in the session
# until its transaction commits, and are dropped if it rolls back.
_PENDING = "connector.metrics"


def count_express_answer(status: str, code: str, value_cents: int) -> None:
    """An authorization the express path answered: the ORM never saw its reservation."""
    AUTHORIZATIONS.labels(status, code).inc()
    if status == "approved":
        CREDIT_RESERVED_CENTS.inc(value_cents)


def count_express_settlement(value_cents: int) -> None:
    """A settlement the express path wrote: the ORM never saw its invoices."""
    CREDIT_SETTLED_CENTS.inc(value_cents)


def _after_flush(session: Session, _context: Any) -> None:
    reserved = settled = 0
    for item in session.new:
        if isinstance(item, Reservation):
            reserved += item.value_cents
        elif isinstance(item, Invoice):
            settled += item.original_value_cents
    if reserved or settled:
        pending = session.info.setdefault(_PENDING, [0, 0])
        pending[0] += reserved
        pending[1] += settled


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is None:
        return
    reserved, settled = pending
    if reserved:
        CREDIT_RESERVED_CENTS.inc(reserved)
    if settled:
        CREDIT_SETTLED_CENTS.inc(settled)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def count_the_ledger() -> None:
    """Count reservations and invoices as sessions commit them (once per process; the
    app and the scheduler each call it)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
