"""``connector serve``: gunicorn workers for HTTP, one child process for the scheduler."""

from __future__ import annotations

import logging
import multiprocessing
import os
import subprocess
import sys
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from connector.config import Settings

log = logging.getLogger(__name__)


def default_workers() -> int:
    return min(2 * multiprocessing.cpu_count() + 1, 9)


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """Gunicorn driven from code: each worker builds its own app (and engine) after fork."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        from connector import create_app

        return create_app()


def _scheduler_hooks(settings: Settings) -> dict[str, Any]:
    """Start the scheduler when the gunicorn master starts, stop it when the master exits."""
    state: dict[str, subprocess.Popen[bytes]] = {}

    def on_starting(_server: Any) -> None:
        if not settings.scheduler_enabled:
            return
        state["scheduler"] = subprocess.Popen(
            [sys.executable, "-m", "connector.cli", "scheduler", "--parent-pid", str(os.getpid())]
        )

    def on_exit(_server: Any) -> None:
        process = state.pop("scheduler", None)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    return {"on_starting": on_starting, "on_exit": on_exit}


def run_server(settings: Settings, host: str, port: int, workers: int | None) -> None:
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers or settings.workers or default_workers(),
        "worker_class": "gthread" if settings.threads > 1 else "sync",
        "threads": settings.threads,
        "timeout": 30,
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": "-" if settings.access_log else None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "proc_name": "connector",
        **_scheduler_hooks(settings),
    }
    _Gunicorn(options).run()
