"""``connector serve``: granian worker processes for HTTP, one child process for the scheduler.

Why granian rather than gunicorn: its HTTP/1.1 server is compiled (Rust) and keeps
connections alive, while gunicorn's sync workers parse HTTP in Python and close every
connection after one answer. On the authorization benchmark (README, "Performance") the
same app served 1,500 authorizations/s under granian against 840/s under gunicorn in the
same run. Each worker is a process that builds its own app (and engine) from the factory,
runs the app in one thread by default (``CONNECTOR_THREADS`` for more), and is respawned
if it dies.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import subprocess
import sys

from flask import Flask
from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server import Server

from connector.config import Settings

log = logging.getLogger(__name__)


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
    return min(2 * multiprocessing.cpu_count() + 1, 9)


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


def run_server(settings: Settings, host: str, port: int, workers: int | None) -> None:
    server = Server(
        "connector.server:worker_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers or settings.workers or default_workers(),
        blocking_threads=settings.threads,
        respawn_failed_workers=True,
        workers_kill_timeout=20,  # a stopping worker has this long to finish its requests
        log_level=LogLevels(settings.log_level.lower()),
        log_access=settings.access_log,
    )
    scheduler = _Scheduler(settings)
    server.on_startup(scheduler.start)
    server.on_shutdown(scheduler.stop)
    try:
        server.serve()
    finally:
        scheduler.stop()
