"""The audit trail: who changed what, when, with the fields before and after.

Who: the edges name the actor once, with ``acting_as`` (or ``act``/``stop_acting`` around
a Flask request): the admin's guard names the signed-in staff user (``staff``, e-mail),
the API's authentication the key (``key``, its app key), the bulk runner the import
(``import``, its job id), each scheduler job itself (``job``, its name), My Credits the
customer (``customer``, account id). Services never take a "who" argument for the trail:
``record`` reads the actor from this context, and an unnamed one is ``system`` (a CLI
command, a test calling a service).

What: services call ``record`` (or ``record_many`` for a batch) in the same transaction
as the change, so a rollback leaves no entry and a committed change always has one.
``before`` and ``after`` hold only the fields that changed (``changes``), money in cents.
Actions are stable dotted names (``ACTIONS``). An import writes one entry per row it
changed (a row it leaves as it was writes none), in one multi-row insert per batch.
The payment protocol's authorizations and settlements are not audited: payments and
statement entries are already their append-only record.

Append-only: no code path updates or deletes an entry, and the migration's triggers
refuse UPDATE and DELETE on ``audit_entries`` on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Index,
    Integer,
    Select,
    String,
    Text,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from connector.db import Base

STAFF, KEY, IMPORT, JOB, CUSTOMER, SYSTEM = "staff", "key", "import", "job", "customer", "system"
ACTOR_KINDS = (STAFF, KEY, IMPORT, JOB, CUSTOMER, SYSTEM)

# Every action the trail records; pages translate them, filters offer them.
ACTIONS = (
    "account.opened",
    "account.credit",
    "account.details",
    "account.closed",
    "account.adjusted",
    "holder.added",
    "holder.removed",
    "holder.mail",
    "invoice.paid",
    "invoice.cancelled",
    "invoice.changed",
    "invoice.postponed",
    "review.approved",
    "review.denied",
    "settings.saved",
    "key.created",
    "key.revoked",
    "connection.revoked",
    "staff.created",
    "staff.disabled",
    "staff.role",
    "staff.password",
)


@dataclass(frozen=True)
class Actor:
    kind: str
    id: str

    def __str__(self) -> str:
        return self.kind if self.kind == SYSTEM else f"{self.kind}:{self.id}"


NOBODY = Actor(SYSTEM, "")
_actor: ContextVar[Actor | None] = ContextVar("audit_actor", default=None)


def act(kind: str, actor_id: str) -> Token[Actor | None]:
    """Name who acts from now on in this context; give the token to ``stop_acting``."""
    if kind not in ACTOR_KINDS:
        raise ValueError(f"unknown actor kind {kind!r}")
    return _actor.set(Actor(kind, actor_id[:254]))


def stop_acting(token: Token[Actor | None]) -> None:
    _actor.reset(token)


@contextmanager
def acting_as(kind: str, actor_id: str) -> Iterator[Actor]:
    """Everything recorded inside the block is done by this actor."""
    token = act(kind, actor_id)
    try:
        yield current_actor()
    finally:
        stop_acting(token)


def current_actor() -> Actor:
    return _actor.get() or NOBODY


class AuditEntry(Base):
    """One change, never updated nor deleted."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    subject_kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(254))
    account_id: Mapped[str | None] = mapped_column(String(120))
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_account_id_at", "account_id", "at"),
        Index("ix_audit_entries_subject_id_at", "subject_id", "at"),
    )


@dataclass(frozen=True)
class Change:
    """One change to record: ``before``/``after`` as given are reduced to what differs."""

    action: str
    subject_kind: str
    subject_id: str
    account_id: str | None = None
    before: Mapping[str, Any] = field(default_factory=dict)
    after: Mapping[str, Any] = field(default_factory=dict)
    note: str | None = None


def changes(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields whose values differ, as (before, after); a field only on one side counts."""
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {k: before[k] for k in keys if k in before}, {k: after[k] for k in keys if k in after}


def _row(change: Change, actor: Actor, at: datetime) -> dict[str, Any]:
    if change.action not in ACTIONS:
        raise ValueError(f"unknown audit action {change.action!r}")
    before, after = changes(change.before, change.after)
    return {
        "at": at,
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "action": change.action,
        "subject_kind": change.subject_kind,
        "subject_id": change.subject_id,
        "account_id": change.account_id,
        "before": _plain(before),
        "after": _plain(after),
        "note": change.note,
    }


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    # Dates and moments as ISO text; cents, rates and flags as they are.
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()}


def record(session: Session, change: Change, *, at: datetime) -> None:
    """Append one entry by the current actor, in the caller's transaction."""
    record_many(session, [change], at=at)


def record_many(session: Session, batch: Sequence[Change], *, at: datetime) -> None:
    """Append many entries by the current actor in one multi-row insert."""
    if batch:
        session.execute(insert(AuditEntry), entry_rows(batch, at=at))


def entry_rows(batch: Sequence[Change], *, at: datetime) -> list[dict[str, Any]]:
    """The rows ``record_many`` inserts, for a caller that writes them its own way (COPY)."""
    actor = current_actor()
    return [_row(change, actor, at) for change in batch]


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page searches by; empty fields do not filter."""

    actor: str = ""
    action: str = ""
    account_id: str = ""
    subject_id: str = ""
    since: datetime | None = None
    until: datetime | None = None
    text: str = ""

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.actor:
            kind, _, actor_id = self.actor.partition(":")
            if kind in ACTOR_KINDS and actor_id:
                where += [AuditEntry.actor_kind == kind, AuditEntry.actor_id == actor_id]
            elif kind in ACTOR_KINDS:
                where.append(AuditEntry.actor_kind == kind)
            else:
                where.append(AuditEntry.actor_id == self.actor)
        if self.action:
            where.append(AuditEntry.action == self.action)
        if self.account_id:
            where.append(AuditEntry.account_id == self.account_id)
        if self.subject_id:
            where.append(AuditEntry.subject_id == self.subject_id)
        if self.since is not None:
            where.append(AuditEntry.at >= self.since)
        if self.until is not None:
            where.append(AuditEntry.at < self.until)
        if self.text:
            pattern = f"%{_escape_like(self.text.lower())}%"
            where.append(
                or_(
                    *(
                        func.lower(column).like(pattern, escape="\\")
                        for column in (
                            AuditEntry.actor_id,
                            AuditEntry.subject_id,
                            AuditEntry.account_id,
                            AuditEntry.note,
                            AuditEntry.action,
                        )
                    )
                )
            )
        return where


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_entries(
    session: Session, where: AuditFilter, *, limit: int | None = 50, offset: int = 0
) -> list[AuditEntry]:
    """Entries matching the filter, latest first."""
    query = entries_query(where).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def entries_query(where: AuditFilter) -> Select[AuditEntry]:
    """The select of the entries matching the filter, latest first (an export streams it)."""
    return (
        select(AuditEntry)
        .where(*where.conditions())
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    )


def count_entries(session: Session, where: AuditFilter) -> int:
    return (
        session.scalar(select(func.count()).select_from(AuditEntry).where(*where.conditions())) or 0
    )


def entries_of(
    session: Session,
    *,
    account_id: str | None = None,
    subject_id: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """One account's or one subject's (an invoice's) activity, latest first, and its count."""
    where = AuditFilter(account_id=account_id or "", subject_id=subject_id or "")
    return search_entries(session, where, limit=limit, offset=offset), count_entries(session, where)
