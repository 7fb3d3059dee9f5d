"""The conformance runner: passes a conforming connector, pins down a broken one."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from connector.conformance import harness, runner
from connector.conformance.cases import CASES, select_cases
from connector.db import Database
from tests.server import Server, environment

KEY, TOKEN = "qa", "qa-token-0123456789abc"


@pytest.fixture
def served(db: Database, tmp_path: Path) -> Iterator[Server]:
    env = environment(
        db, tmp_path, CONNECTOR_APP_KEY=KEY, CONNECTOR_APP_TOKEN=TOKEN, CONNECTOR_WORKERS="2"
    )
    server = Server(env, tmp_path / "serve.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_every_case_passes_against_this_connector(served: Server, tmp_path: Path) -> None:
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    command = [
        sys.executable,
        "-m",
        "connector.cli",
        "conformance",
        "--url",
        served.base,
        "--app-key",
        KEY,
        "--app-token",
        TOKEN,
        "--junit",
        str(junit),
        "--json",
        str(report),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
    cases = json.loads(report.read_text())
    assert {c["name"]: c["result"] for c in cases} == {
        **{name: "passed" for name in CASES},
        "redirect": "skipped",
    }
    assert {c["group"] for c in cases} == {"homologation", "extended"}
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == str(len(CASES)) and suite.get("failures") == "0"


class Broken:
    """A connector that gets things wrong, one way per payment id prefix."""

    def __init__(self) -> None:
        self.app = Flask("broken")
        self.app.add_url_rule("/payments", view_func=self.create, methods=["POST"])
        self.app.add_url_rule("/manifest", view_func=lambda: jsonify({"paymentMethods": []}))
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def create(self) -> Any:
        body = request.get_json(force=True)
        answer = {
            "paymentId": body["paymentId"],
            "tid": "t",
            "nsu": "n",
            "code": None,
            "message": None,
            "authorizationId": None,
            "delayToAutoSettle": 100,
            "delayToCancel": 700,
        }
        number = body["card"]["number"]
        if number == "4444333322221111":
            return jsonify({**answer, "status": "approved"})  # no authorizationId
        if number == "4444333322221112":
            time.sleep(0.3)  # too slow (the limit is lowered below)
            return jsonify({**answer, "status": "denied"})
        return jsonify({**answer, "status": "undefined"})  # and never calls back


def test_a_broken_connector_fails_with_evidence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(harness, "ANSWER_LIMIT_SECONDS", 0.2)
    monkeypatch.setattr("connector.conformance.homologation.CALLBACK_SECONDS", 0.5)
    broken = Broken()
    broken.thread.start()
    try:
        results = runner.run(
            select_cases(["approved", "denied", "async-approved", "manifest"]),
            url=broken.url,
            app_key=KEY,
            app_token=TOKEN,
        )
    finally:
        broken.server.shutdown()
    by_name = {r.name: r for r in results}
    assert all(r.result == "failed" for r in results)
    assert by_name["approved"].message == "an approved payment needs an authorizationId"
    assert "over 0.2s" in by_name["denied"].message
    assert by_name["async-approved"].message == "no callback within 0s"
    assert by_name["manifest"].message == "paymentMethods must be a non-empty list"
    evidence = by_name["approved"].evidence[-1]
    assert "POST http://127.0.0.1" in evidence and '"status": "approved"' in evidence
    assert "qa-token" not in evidence  # tokens are never echoed
    assert not runner.passed(results)
    text = runner.table(results)
    assert "0 passed, 4 failed, 0 skipped" in text and "== approved:" in text
    runner.write_junit(results, tmp_path / "j.xml")
    failures = ET.parse(tmp_path / "j.xml").getroot().findall("testcase/failure")
    assert len(failures) == 4


def test_unknown_cases_are_a_usage_error() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "connector.cli",
            "conformance",
            "--url",
            "http://x",
            "--case",
            "nope",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "unknown case(s): nope" in result.stderr
