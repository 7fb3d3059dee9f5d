"""``connector serve``: a real gunicorn master, its workers and one scheduler process."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connector.db import Database
from connector.keys import verify_key
from tests.functional.test_cli import environment

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> dict[int, str]:
    """The direct children of a process: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if ppid == pid:
            found[int(entry.name)] = cmdline
    return found


def is_gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


class Server:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "connector.cli",
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    "2",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                if requests.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server did not start:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


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
