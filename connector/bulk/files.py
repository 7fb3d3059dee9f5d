"""An uploaded file, kept in the database in parts so that any worker can run its import."""

from __future__ import annotations

import io
from typing import Any, BinaryIO, cast

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from connector.bulk.csvio import FactsCollector, FileFacts
from connector.bulk.history import ImportFilePart
from connector.db import Database

PART_BYTES = 1 << 20


def store_upload(session: Session, job_id: str, stream: BinaryIO) -> FileFacts:
    """Copy an uploaded file into the database in parts, learning its facts on the way.

    The caller has refused a workbook already (``uploads.queue_import``).
    """
    collector = FactsCollector()
    seq = 0
    while block := stream.read(PART_BYTES):
        collector.feed(block)
        session.execute(insert(ImportFilePart).values(job_id=job_id, seq=seq, data=block))
        seq += 1
    return collector.facts()


class _StoredFile(io.RawIOBase):
    """An uploaded file read back from its parts, each in its own short read transaction,
    so a long import never holds a snapshot open and one part at a time is in memory."""

    def __init__(self, db: Database, job_id: str) -> None:
        self._db = db
        self._job_id = job_id
        self._seq = 0
        self._part = b""
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        if self._offset >= len(self._part):
            with self._db.transaction(read_only=True) as session:
                data = session.scalar(
                    select(ImportFilePart.data).where(
                        ImportFilePart.job_id == self._job_id, ImportFilePart.seq == self._seq
                    )
                )
            if data is None:
                return 0
            self._seq += 1
            self._part, self._offset = bytes(data), 0
        piece = self._part[self._offset : self._offset + len(target)]
        self._offset += len(piece)
        target[: len(piece)] = piece
        return len(piece)


def open_upload(db: Database, job_id: str) -> BinaryIO:
    """The uploaded file of an import as a binary stream."""
    return cast(BinaryIO, io.BufferedReader(_StoredFile(db, job_id), PART_BYTES))


def delete_upload(session: Session, job_id: str) -> None:
    session.execute(delete(ImportFilePart).where(ImportFilePart.job_id == job_id))


def has_upload(session: Session, job_id: str) -> bool:
    found = session.scalar(
        select(ImportFilePart.seq).where(ImportFilePart.job_id == job_id).limit(1)
    )
    return found is not None
