"""Queuing an uploaded file for import: shared by the API and the admin's Bulk page.

The file is checked at once (a workbook instead of a CSV, a header without the required
columns), so a wrong file is refused while its uploader waits rather than failing later in
the scheduler; then it is stored in the database and the import queued. The caller (the
edge) owns the transaction: on an error nothing of the upload is kept.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import BinaryIO

from sqlalchemy.orm import Session

from connector.bulk.csvio import FileFacts, FileProblem, check_not_a_workbook, open_sheet
from connector.bulk.files import PART_BYTES, store_upload
from connector.bulk.history import ImportJob, create_job, record_facts
from connector.bulk.runner import DEFAULT_CHUNK_ROWS, check_request, columns_for
from connector.errors import N_, Code, Reason, ValidationError

MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # a million-row file is about 60 MB
NO_FILE = N_("a CSV file is required")


class InvalidFile(ValidationError):
    """The uploaded file cannot be imported; ``problem`` says why (its code and column)."""

    code = Code.INVALID_FILE

    def __init__(self, problem: FileProblem) -> None:
        super().__init__(
            problem.template,
            fields={"file": Reason(problem.template, **problem.values)},
            **problem.values,
        )
        self.problem = problem


def queue_import(
    session: Session,
    *,
    kind: str,
    mode: str,
    dry_run: bool,
    stream: BinaryIO | None,
    file_name: str | None,
    requested_by: str,
    source: str,
    chunk_size: int = DEFAULT_CHUNK_ROWS,
    now: datetime | None = None,
) -> ImportJob:
    """Check an uploaded file's header, store it and queue its import (status ``queued``).

    Raises ValidationError naming ``kind``, ``mode`` or ``file`` (``InvalidFile``, code
    ``invalid_file``, for a file that is not a CSV with the required columns).
    """
    check_request(kind, mode)
    if stream is None or not file_name:
        raise ValidationError("no file uploaded", fields={"file": NO_FILE})
    head = stream.read(PART_BYTES)
    try:
        check_not_a_workbook(head[:8])
    except FileProblem as problem:
        raise InvalidFile(problem) from None
    stream.seek(0)
    job = create_job(
        session,
        kind=kind,
        mode=mode,
        dry_run=dry_run,
        source=source,
        requested_by=requested_by,
        file_name=file_name,
        facts=FileFacts("utf-8", 0, "", 0),
        chunk_size=chunk_size,
        now=now,
    )
    facts = store_upload(session, job.id, stream)
    try:
        # The header is in the first part; check it now so a wrong file is refused at once.
        open_sheet(io.BytesIO(head), facts.encoding, columns_for(kind, mode))
    except FileProblem as problem:
        raise InvalidFile(problem) from None
    record_facts(job, facts)
    session.flush()
    return job
