"""``connector serve``: a real gunicorn master, its workers and one scheduler process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connector.access.keys import verify_key
from connector.db import Database
from tests.server import Server, children, environment, is_gone

pytestmark = pytest.mark.slow


@pytest.fixture
def serve_env(db: Database, tmp_path: Path) -> Iterator[dict[str, str]]:
    yield environment(db, tmp_path, CONNECTOR_LOG_LEVEL="INFO")


def test_serve_runs_workers_and_one_scheduler(
    db: Database, serve_env: dict[str, str], tmp_path: Path
) -> None:
    server = Server(serve_env, tmp_path / "first.log")
    try:
        server.wait_ready()
        manifest = requests.get(f"{server.base}/manifest", timeout=5).json()
        assert manifest["paymentMethods"][0]["name"] == "Promissories"
        legacy = requests.get(f"{server.base}/payment-methods", timeout=5).json()
        assert legacy == {"paymentMethods": ["Promissories", "Visa"]}
        kids = children(server.process.pid)
        schedulers = [pid for pid, cmd in kids.items() if " scheduler " in f"{cmd} "]
        assert len(schedulers) == 1, kids
        assert len(kids) == 3, kids  # two workers and the scheduler
    finally:
        status = server.stop()
    assert status == 0, server.output()
    assert is_gone(schedulers[0])

    output = server.output()
    assert output.count("X-VTEX-API-AppToken:") == 1
    token_line = next(line for line in output.splitlines() if "X-VTEX-API-AppToken:" in line)
    key_line = next(line for line in output.splitlines() if "X-VTEX-API-AppKey:" in line)
    with db.transaction() as session:
        role = verify_key(
            session, key_line.split(":", 1)[1].strip(), token_line.split(":", 1)[1].strip()
        )
    assert role == "admin"
    secret = tmp_path / "instance" / "secret_key"
    assert secret.exists() and oct(secret.stat().st_mode & 0o777) == "0o600"

    # A second start prints no credentials: they were shown once.
    again = Server(serve_env, tmp_path / "second.log")
    try:
        again.wait_ready()
    finally:
        again.stop()
    assert "X-VTEX-API-AppToken:" not in again.output()


def test_serve_with_configured_credentials_generates_none(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **serve_env,
        "CONNECTOR_APP_KEY": "store-key",
        "CONNECTOR_APP_TOKEN": "a-long-enough-store-token",
    }
    server = Server(env, tmp_path / "configured.log")
    try:
        server.wait_ready()
    finally:
        server.stop()
    assert "X-VTEX-API-AppToken:" not in server.output()
