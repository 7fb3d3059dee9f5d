"""Queuing an upload (the service both HTTP edges call): checked at once, stored, queued."""

from __future__ import annotations

import io

import pytest

from connector.bulk.files import has_upload
from connector.bulk.history import QUEUED
from connector.bulk.uploads import InvalidFile, queue_import
from connector.db import Database
from connector.errors import ValidationError


def queue(db: Database, content: bytes | None, **changes: object) -> str:
    arguments: dict[str, object] = {
        "kind": "accounts",
        "mode": "create",
        "dry_run": False,
        "stream": None if content is None else io.BytesIO(content),
        "file_name": "a.csv",
        "requested_by": "tester",
        "source": "api",
        **changes,
    }
    with db.transaction() as session:
        job = queue_import(session, **arguments)  # type: ignore[arg-type]
        assert job.status == QUEUED and has_upload(session, job.id)
        return f"{job.encoding} {job.rows_total} {job.file_size} {job.dry_run}"


def test_a_csv_is_stored_and_queued(db: Database) -> None:
    content = "Email;Límite de crédito\r\nana@example.com;10\r\nbob@example.com;20\r\n"
    assert queue(db, content.encode("cp1252"), dry_run=True) == "cp1252 2 65 True"


def test_a_wrong_file_names_the_field_and_the_problem(db: Database) -> None:
    with pytest.raises(InvalidFile) as workbook:
        queue(db, b"PK\x03\x04...")
    assert (workbook.value.code, workbook.value.problem.code) == ("invalid_file", "not_csv")
    assert "save it as CSV" in workbook.value.fields["file"]
    with pytest.raises(InvalidFile) as missing:
        queue(db, b"Email\r\nana@example.com\r\n")
    assert missing.value.problem.code == "missing_column"
    assert missing.value.problem.column == "Credit limit"
    with pytest.raises(ValidationError) as no_file:
        queue(db, None, file_name=None)
    assert no_file.value.fields == {"file": "a CSV file is required"}
    with pytest.raises(ValidationError) as bad_mode:
        queue(db, b"Id,Status\r\n", kind="invoices", mode="create")
    assert set(bad_mode.value.fields) == {"mode"}
