"""``connector serve``: a real granian server, its workers and one scheduler process."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

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
        _wait_for(lambda: "X-VTEX-API-AppToken:" in server.output())  # printed once ready
        kids = children(server.process.pid)  # the process that printed them is no child
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
        "CONNECTOR_LOG_FORMAT": "json",
    }
    server = Server(env, tmp_path / "configured.log")
    try:
        server.wait_ready()
        requests.get(f"{server.base}/manifest", headers={"X-Request-Id": "json-req"}, timeout=5)
    finally:
        server.stop()
    output = server.output()
    assert "X-VTEX-API-AppToken:" not in output
    # One JSON object per line, granian's own lines and the scheduler's included.
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert any(r.get("logger") == "_granian" for r in records)
    assert any(r.get("request_id") == "json-req" and r["event"] == "request" for r in records)
    assert "a-long-enough-store-token" not in output


def _wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _ready(base: str) -> bool:
    try:
        return requests.get(f"{base}/ready", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def test_serve_logs_one_line_per_event_and_sums_metrics_across_processes(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"stale")
    env = {**serve_env, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    server = Server(env, tmp_path / "observed.log")
    try:
        server.wait_ready()
        assert not (folder / "counter_999999.db").exists()  # emptied at start
        _wait_for(lambda: _ready(server.base))  # the scheduler beat
        _wait_for(lambda: "X-VTEX-API-AppToken:" in server.output())
        key, token = (
            next(line for line in server.output().splitlines() if name in line)
            .split(":", 1)[1]
            .strip()
            for name in ("X-VTEX-API-AppKey:", "X-VTEX-API-AppToken:")
        )
        for n in range(20):  # new connections: they land on both workers
            answer = requests.get(
                f"{server.base}/manifest", headers={"X-Request-Id": f"t-{n}"}, timeout=5
            )
            assert answer.headers["X-Request-Id"] == f"t-{n}"
        metrics = requests.get(f"{server.base}/metrics", auth=(key, token), timeout=10)
        assert metrics.status_code == 200
        families = {f.name: f for f in text_string_to_metric_families(metrics.text)}
        manifest = [
            s
            for s in families["connector_http_requests"].samples
            if s.name.endswith("_total") and s.labels["route"] == "/manifest"
        ]
        assert sum(s.value for s in manifest) == 20
        heartbeat_runs = [
            s
            for s in families["connector_job_runs"].samples
            if s.labels == {"job": "heartbeat", "outcome": "ok"}
        ]
        assert heartbeat_runs and heartbeat_runs[0].value >= 1  # counted by the scheduler
        pids = {p.stem.split("_")[-1] for p in folder.glob("counter_*.db")}
        assert len(pids) >= 2, pids  # a worker's and the scheduler's, summed in one answer
    finally:
        assert server.stop() == 0
    output = server.output()
    block = re.search(r"\n=+\n(.*?)\n=+\n", output, re.S)
    assert block is not None and "X-VTEX-API-AppToken:" in block.group(1)
    lines = [line for line in output.replace(block.group(0), "\n").splitlines() if line.strip()]
    assert all(line.startswith("ts=") for line in lines), lines
    for noise in ("Running job", "alembic", "higher than the amount of CPU", "Websockets"):
        assert noise not in output, noise
    assert output.count(token) == 1  # in the block, nowhere else
    access = [line for line in lines if "request_id=t-7 " in line]
    assert len(access) == 1 and "route=/manifest" in access[0] and "status=200" in access[0]
    started = [line for line in lines if 'event="scheduler started"' in line]
    assert len(started) == 1
