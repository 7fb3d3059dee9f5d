"""``connector serve``'s process defaults: one worker per core, one on SQLite."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from connector import server
from connector.config import load_settings


class _FakeServer:
    """Granian's server as ``run_server`` builds it, started and stopped at once."""

    made: dict[str, Any] = {}

    def __init__(self, target: str, **options: Any) -> None:
        _FakeServer.made = options

    def on_startup(self, _hook: Any) -> None:
        pass

    def on_shutdown(self, _hook: Any) -> None:
        pass

    def serve(self) -> None:
        pass


def _served_with(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> dict[str, Any]:
    monkeypatch.setattr(server, "Server", _FakeServer)
    settings = load_settings(
        {
            "CONNECTOR_INSTANCE_PATH": str(tmp_path),
            "CONNECTOR_SCHEDULER": "false",
            "CONNECTOR_SECRET_KEY": "k" * 40,
            **env,
        }
    )
    server.run_server(settings, "127.0.0.1", 8000, None)
    return _FakeServer.made


def test_sqlite_serves_from_one_worker_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made = _served_with(monkeypatch, tmp_path)  # the default database: SQLite
    assert made["workers"] == 1
    assert made["blocking_threads"] == 2  # its threads take turns in the writer queue


def test_postgresql_serves_from_one_worker_per_core(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made = _served_with(monkeypatch, tmp_path, DATABASE_URL="postgresql://u:p@h/db")
    assert made["workers"] == len(os.sched_getaffinity(0))


def test_a_worker_count_given_wins_on_sqlite(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert _served_with(monkeypatch, tmp_path, CONNECTOR_WORKERS="3")["workers"] == 3
    settings = load_settings({"CONNECTOR_INSTANCE_PATH": str(tmp_path)})
    monkeypatch.setattr(server, "Server", _FakeServer)
    server.run_server(replace(settings, scheduler_enabled=False), "127.0.0.1", 8000, 4)
    assert _FakeServer.made["workers"] == 4
