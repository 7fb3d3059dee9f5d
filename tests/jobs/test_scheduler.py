"""The scheduler: a run is logged when it did something or failed, never on an idle tick;
every run is counted; the heartbeat job writes what /ready reads."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobSubmissionEvent,
)
from sqlalchemy import func, select

from connector import logs, metrics
from connector.clock import utcnow
from connector.config import load_settings
from connector.db import Database
from connector.heartbeat import BEAT_SECONDS, SchedulerHeartbeat, last_beat
from connector.jobs.scheduler import _job, _on_event, build_scheduler


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in (*logs.QUIET, "_granian")}
    stream = io.StringIO()
    logs.configure("DEBUG", "logfmt", stream)
    yield stream
    root.handlers[:], root.level = saved
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def runs(job: str, outcome: str) -> float:
    return sample("connector_job_runs_total", job=job, outcome=outcome)


def test_a_run_is_logged_only_when_it_did_something_or_failed(captured: io.StringIO) -> None:
    ok_before, failed_before = runs("probe", "ok"), runs("probe", "failed")
    _job("probe", lambda: 0)()
    assert captured.getvalue() == ""  # an idle tick: counted, not logged
    _job("probe", lambda: 3)()
    done = captured.getvalue().splitlines()
    assert len(done) == 1 and 'event="job done" job=probe count=3' in done[0]

    def broken() -> int:
        raise RuntimeError("database gone")

    _job("probe", broken)()
    failed = captured.getvalue().splitlines()[-1]
    assert "level=error" in failed and 'event="job failed" job=probe' in failed
    assert "RuntimeError: database gone" in failed  # the traceback, on its one line
    assert runs("probe", "ok") - ok_before == 2
    assert runs("probe", "failed") - failed_before == 1


def test_lateness_and_skipped_runs_are_counted() -> None:
    count_before = sample("connector_job_lag_seconds_count", job="probe2")
    sum_before = sample("connector_job_lag_seconds_sum", job="probe2")
    late = utcnow() - timedelta(seconds=3)
    _on_event(JobSubmissionEvent(EVENT_JOB_SUBMITTED, "probe2", "default", [late]))
    assert sample("connector_job_lag_seconds_count", job="probe2") - count_before == 1
    assert 2.5 < sample("connector_job_lag_seconds_sum", job="probe2") - sum_before < 10
    skipped = runs("probe2", "skipped")
    _on_event(JobEvent(EVENT_JOB_MAX_INSTANCES, "probe2", "default"))
    assert runs("probe2", "skipped") - skipped == 1


def test_the_heartbeat_job_beats(db: Database, tmp_path: Path) -> None:
    settings = load_settings({"DATABASE_URL": db.url, "CONNECTOR_INSTANCE_PATH": str(tmp_path)})
    scheduler = build_scheduler(db, settings)
    job = scheduler.get_job("heartbeat")
    assert job is not None and job.trigger.interval == timedelta(seconds=BEAT_SECONDS)
    with db.transaction() as session:
        assert last_beat(session) is None
    job.func()
    with db.transaction() as session:
        beat = last_beat(session)
    assert beat is not None and abs((utcnow() - beat).total_seconds()) < 5
    job.func()  # the same machine's row, updated
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(SchedulerHeartbeat)) == 1
