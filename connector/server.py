"""``connector serve``: granian worker processes for HTTP, one child process for the scheduler.

Why granian rather than gunicorn: its HTTP/1.1 server is compiled (Rust) and keeps
connections alive, while gunicorn's sync workers parse HTTP in Python and close every
connection after one answer. On the authorization benchmark (README, "Performance") the
same app served 1,500 authorizations/s under granian against 840/s under gunicorn in the
same run. Each worker is a process that builds its own app (and engine) from the factory,
runs the app in one thread by default (``CONNECTOR_THREADS`` for more), and is respawned
if it dies.

The server's processes log through ``connector.logs`` (granian applies its ``dictConfig``
in each), and count into one ``PROMETHEUS_MULTIPROC_DIR`` that ``/metrics`` sums.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server import Server

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


def default_workers() -> int:
    """One worker per core this process may run on: granian's own advice (more workers
    than cores only add switching; ``CONNECTOR_THREADS`` overlaps waits within one)."""
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
    """Text printed once the service is ready (``/ready``), after the start-up lines of
    granian, its workers and the scheduler, so that it does not scroll away among them
    (the first start's credentials).

    A child process waits and prints, rather than a thread of this one: granian forks its
    workers after the start-up hooks run, and a thread caught mid-call at a fork can leave
    a lock held forever in the child. The text goes to the child on a pipe (never in its
    arguments or environment), and the child prints it at the latest when it is stopped.
    """

    def __init__(self, text: str | None, host: str, port: int) -> None:
        self.text = text
        self.url = f"http://{_local(host)}:{port}/ready"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.text is None or self.process is not None:
            return
        code = "from connector.server import announce_when_ready; announce_when_ready()"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, self.url], stdin=subprocess.PIPE
        )
        assert self.process.stdin is not None
        self.process.stdin.write(self.text.encode())
        self.process.stdin.close()

    def stop(self) -> None:
        """Have it printed now if the service never got ready."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def announce_when_ready(timeout: float = 60.0) -> None:
    """The announcer's process: read the text, wait for ``argv[1]`` to answer 200 (or the
    timeout, or SIGTERM), print it, exit."""
    text = sys.stdin.read()
    url = sys.argv[1]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    break
        except OSError:  # not listening yet, or not ready (a 503)
            stop.wait(0.5)
    sys.stdout.write(text)
    sys.stdout.flush()


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
    count = workers or settings.workers or default_workers()
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
    server.on_shutdown(announcement.stop)
    log.info("serving", extra={"url": f"http://{_local(host)}:{port}", "workers": count})
    try:
        server.serve()
    finally:
        scheduler.stop()
        announcement.stop()
