"""``connector serve``: granian worker processes for HTTP, one child process for the scheduler.

Why granian rather than gunicorn: its HTTP/1.1 server is compiled (Rust) and keeps
connections alive, while gunicorn's sync workers parse HTTP in Python and close every
connection after one answer. On the authorization benchmark (README, "Performance") the
same app served 1,500 authorizations/s under granian against 840/s under gunicorn in the
same run. Each worker is a process that builds its own app (and engine) from the factory,
runs the app in ``CONNECTOR_THREADS`` threads, and is respawned if it dies; there is one
worker per core, or one on SQLite (see ``default_workers``).

The server's processes log through ``connector.logs`` (granian applies its ``dictConfig``
in each), and count into one ``PROMETHEUS_MULTIPROC_DIR`` that ``/metrics`` sums.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server import Server
from sqlalchemy.engine import make_url

from connector import logs
from connector.config import Settings

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own name for it


def worker_app() -> Flask:
    """The app of one worker process.

    What is loaded by now (modules, the models' metadata, compiled statements) lives as
    long as the process, so it is frozen out of the garbage collector: a full collection
    would otherwise walk all of it, tens of milliseconds, in the middle of a request.
    """
    from connector import create_app

    app = create_app()
    gc.collect()
    gc.freeze()
    return app


def default_workers(database_url: str) -> int:
    """One worker per core this process may run on: granian's own advice (more workers
    than cores only add switching; ``CONNECTOR_THREADS`` overlaps waits within one).

    On SQLite, one worker: SQLite has one writer at a time, and writers of several
    processes meet only in SQLite's busy handler, which sleeps in growing steps (up to
    100 ms) while a newcomer takes the lock: p99 of hundreds of milliseconds. In one
    process the threads take turns in ``connector.db.WriterQueue`` and none sleeps; the
    scheduler and commands still meet the worker in SQLite's busy handler, rarely.
    """
    if make_url(database_url).get_backend_name() == "sqlite":
        return 1
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextmanager
def metrics_folder() -> Iterator[Path]:
    """The folder every process of this server counts into, empty at start.

    ``PROMETHEUS_MULTIPROC_DIR`` when the operator names one (its old files removed);
    otherwise a new temporary folder, removed when the server stops. It must be in the
    environment before any process creates a metric, so ``serve`` calls this before the
    workers fork, and the server's own process never imports ``connector.metrics``.
    """
    if "connector.metrics" in sys.modules:
        raise RuntimeError("connector.metrics was imported before the metrics folder was set")
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        folder = Path(configured)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        yield folder
        return
    folder = Path(tempfile.mkdtemp(prefix="connector-metrics-"))
    os.environ[MULTIPROC_ENV] = str(folder)
    try:
        yield folder
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


class _Announcement:
    """Text printed once the service is ready, by ``connector.announce``'s process."""

    def __init__(self, text: str | None, host: str, port: int) -> None:
        self.text = text
        self.url = f"http://{_local(host)}:{port}/ready"

    def start(self) -> None:
        text, self.text = self.text, None
        if text is None:
            return
        launcher = subprocess.Popen(
            [sys.executable, "-m", "connector.announce", self.url, str(os.getpid())],
            stdin=subprocess.PIPE,
        )
        assert launcher.stdin is not None
        launcher.stdin.write(text.encode())
        launcher.stdin.close()
        launcher.wait(timeout=30)  # it forks the one that waits, and exits


def _local(host: str) -> str:
    if host in ("", "0.0.0.0"):  # noqa: S104 (the address a wildcard bind answers on)
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class _Scheduler:
    """The scheduler's child process: started with the server, stopped when it stops."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not self.settings.scheduler_enabled or self.process is not None:
            return
        self.process = subprocess.Popen(
            [sys.executable, "-m", "connector.cli", "scheduler", "--parent-pid", str(os.getpid())]
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def run_server(
    settings: Settings,
    host: str,
    port: int,
    workers: int | None,
    *,
    announce: str | None = None,
) -> None:
    """Serve until stopped; ``announce`` is printed once the workers answer."""
    count = workers or settings.workers or default_workers(settings.database_url)
    server = Server(
        "connector.server:worker_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        websockets=False,  # WSGI has none; saying so spares a start-up line
        workers=count,
        blocking_threads=settings.threads,
        respawn_failed_workers=True,
        workers_kill_timeout=20,  # a stopping worker has this long to finish its requests
        log_level=LogLevels(settings.log_level.lower()),
        log_dictconfig=logs.dict_config(settings.log_level, settings.log_format, "stdout"),
        log_access=False,  # connector.ops logs each request by its URL rule, with its id
    )
    scheduler = _Scheduler(settings)
    announcement = _Announcement(announce, host, port)
    server.on_startup(scheduler.start)
    server.on_startup(announcement.start)
    server.on_shutdown(scheduler.stop)
    log.info("serving", extra={"url": f"http://{_local(host)}:{port}", "workers": count})
    try:
        server.serve()
    finally:
        scheduler.stop()
