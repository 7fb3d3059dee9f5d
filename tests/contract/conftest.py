"""A scene for the contract tests: one app on the suite's database, driven once per module
through flows that make every documented operation answer, each answer kept for the tests.

The flows run once per module (a test per operation and case then reads what they
recorded), so the tables are emptied before and after the module, as the ``db`` fixture
does after each test.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from connector.clock import FixedClock
from connector.context import of
from connector.db import Database
from tests.conftest import _empty_tables, make_app
from tests.contract.vtex import Document
from tests.factories import NOW


@dataclass(frozen=True)
class Answer:
    """One answer as the wire carried it: JSON numbers as a client reads them (int or
    float, never Decimal), ``None`` for an empty body."""

    method: str
    path: str
    status: int
    body: Any
    response: TestResponse | None = field(default=None, compare=False, repr=False)


@dataclass
class Recorder:
    """Answers by (operationId, case): what a flow made each documented operation answer."""

    document: Document
    answers: dict[tuple[str, str], list[Answer]] = field(default_factory=lambda: defaultdict(list))

    def record(self, case: str, method: str, path: str, response: TestResponse) -> Any:
        raw = response.get_data()
        body = json.loads(raw) if raw else None
        operation = self.document.operation(method, path).spec["operationId"]
        self.answers[operation, case].append(
            Answer(method, path, response.status_code, body, response)
        )
        return body

    def check(self, operation: str, case: str) -> None:
        """Every answer recorded for the case fits the document; at least one was."""
        answers = self.answers.get((operation, case))
        assert answers, f"no flow made {operation} answer as '{case}'"
        for answer in answers:
            self.document.check(answer.method, answer.path, answer.status, answer.body)


@dataclass
class Stage:
    """The scene's app, its clock and database."""

    app: Flask
    clock: FixedClock
    db: Database


@pytest.fixture(scope="module")
def stage(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    """An app on the emptied suite database, its clock pinned at ``NOW`` (a Monday)."""
    _empty_tables(database)
    clock = FixedClock(NOW)
    app = make_app(database, tmp_path_factory.mktemp("contract") / "instance", clock)
    try:
        yield Stage(app, clock, database)
    finally:
        of(app).db.dispose()
        _empty_tables(database)
