"""Invoice mails to customers, each written exactly once.

A notification is a row keyed by invoice, rule and recipient; the row and its mail in the
outbox are written in one transaction, under that unique key. Two schedulers may both
find the same mail due: one commits, the other's insert collides and writes nothing. A
process killed before its commit leaves neither row nor mail, and the next run writes
them. (Handing the mail to SMTP is the outbox's job: at least once, one Message-ID.)

The recipients are the account's owner and, when the store says so, the dependent who
made the purchase, unless they opted out; each gets the mail in their language, or the
store's. Links to My Credits need ``CONNECTOR_PUBLIC_URL``, the service's address for
people: without it the mails carry no such link.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from connector.clock import utcnow
from connector.credit.models import Holder, HolderLevel, Invoice, InvoiceStatus, Reservation
from connector.credit.settings import StoreSettings, load_store_settings
from connector.db import Base, Database
from connector.ids import new_id
from connector.notify.mails import invoice_mail
from connector.notify.outbox import queue_mail
from connector.notify.reminders import PAID, Due, due_now, due_on

log = logging.getLogger(__name__)


class Notification(Base):
    """An invoice mail written: at most one per invoice, rule and recipient."""

    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"))
    rule: Mapped[str] = mapped_column(String(24))
    recipient: Mapped[str] = mapped_column(String(254))
    mail_id: Mapped[str] = mapped_column(ForeignKey("outbox_mails.id"))
    created_at: Mapped[datetime]

    __table_args__ = (
        Index("uq_notifications_invoice_rule", "invoice_id", "rule", "recipient", unique=True),
        Index("ix_notifications_created_at", "created_at"),
    )


@dataclass(frozen=True)
class Recipient:
    email: str
    language: str


def recipients(session: Session, due: Due, settings: StoreSettings) -> list[Recipient]:
    """Who gets a mail about ``due``: the owner, and the dependent who bought when the store
    mails dependents; never a removed or opted-out holder."""
    first = due.invoices[0]
    holders = session.scalars(
        select(Holder).where(Holder.account_id == first.account_id, Holder.removed_at.is_(None))
    ).all()
    buyer = None
    if settings.notify_dependents:
        buyer = session.scalar(
            select(Reservation.holder_email).where(Reservation.id == first.reservation_id)
        )
    chosen = [
        holder
        for holder in holders
        if holder.level == HolderLevel.OWNER
        or (holder.email == buyer and holder.level == HolderLevel.DEPENDENT)
    ]
    return [
        Recipient(holder.email, holder.language or settings.language)
        for holder in chosen
        if holder.mail_opt_out_at is None
    ]


@dataclass(frozen=True)
class Planned:
    """A mail a rule asks for, not yet written."""

    due: Due
    recipient: Recipient


def _written(session: Session, due: Due) -> set[str]:
    """The recipients who already have this mail (by its first invoice: a group is written
    together)."""
    return set(
        session.scalars(
            select(Notification.recipient).where(
                Notification.invoice_id == due.invoices[0].id, Notification.rule == due.rule
            )
        )
    )


def planned(session: Session, settings: StoreSettings, dues: Iterator[Due]) -> list[Planned]:
    """The mails of ``dues`` still to write, recipient by recipient."""
    out = []
    for due in dues:
        written = _written(session, due)
        out += [
            Planned(due, recipient)
            for recipient in recipients(session, due, settings)
            if recipient.email not in written
        ]
    return out


def _write(
    session: Session,
    plan: Planned,
    settings: StoreSettings,
    today: date,
    my_credits_url: str | None,
    now: datetime,
) -> None:
    mail = invoice_mail(
        plan.due,
        language=plan.recipient.language,
        settings=settings,
        today=today,
        my_credits_url=my_credits_url,
    )
    queued = queue_mail(
        session,
        to=plan.recipient.email,
        subject=mail.subject,
        body=mail.text,
        html=mail.html,
        images=mail.images,
        now=now,
    )
    for invoice in plan.due.invoices:
        session.add(
            Notification(
                id=new_id(),
                invoice_id=invoice.id,
                rule=plan.due.rule,
                recipient=plan.recipient.email,
                mail_id=queued.id,
                created_at=now,
            )
        )
    session.flush()  # the unique key decides here, before the commit


def send_notifications(db: Database, *, public_url: str | None, now: datetime | None = None) -> int:
    """Write every invoice mail due now that was not written yet; returns how many.

    Each mail is its own transaction (row and mail together), so a failure or a crash
    loses at most the mail being written, and a collision with another scheduler is
    skipped.
    """
    now = now or utcnow()
    with db.transaction(read_only=True) as session:
        settings = load_store_settings(session)
        keys = [
            (plan.due.rule, [i.id for i in plan.due.invoices], plan.recipient)
            for plan in planned(session, settings, due_now(session, settings, now))
        ]
    today = settings.today(now)
    my_credits_url = _my_credits_url(public_url, settings)
    written = 0
    for rule, invoice_ids, recipient in keys:
        try:
            with db.transaction() as session:
                invoices = tuple(
                    session.scalars(
                        select(Invoice).where(Invoice.id.in_(invoice_ids)).order_by(Invoice.id)
                    )
                )
                if not _still_due(rule, invoices):
                    continue  # paid or cancelled since it was found: nothing to remind
                due = Due(rule, invoices, now)
                _write(session, Planned(due, recipient), settings, today, my_credits_url, now)
        except IntegrityError:
            log.info(
                "%s of %s to %s: written by another process", rule, invoice_ids[0], recipient.email
            )
            continue
        written += 1
    return written


def _still_due(rule: str, invoices: tuple[Invoice, ...]) -> bool:
    wanted = InvoiceStatus.PAID if rule == PAID else InvoiceStatus.OPENED
    return bool(invoices) and all(invoice.status == wanted for invoice in invoices)


def _my_credits_url(public_url: str | None, settings: StoreSettings) -> str | None:
    if not public_url or not settings.my_credits_enabled:
        return None
    return public_url.rstrip("/") + "/mycredits/"


@dataclass(frozen=True)
class Preview:
    moment: datetime
    rule: str
    invoice_ids: tuple[str, ...]
    recipient: str
    language: str
    subject: str


def preview_day(db: Database, day: date, *, public_url: str | None) -> list[Preview]:
    """What the store's day ``day`` would send (reminders for the invoices open now; issued
    and paid mails of that day), writing nothing; amounts as of that day."""
    with db.transaction(read_only=True) as session:
        settings = load_store_settings(session)
        out = []
        for plan in planned(session, settings, due_on(session, settings, day)):
            mail = invoice_mail(
                plan.due,
                language=plan.recipient.language,
                settings=settings,
                today=day,
                my_credits_url=_my_credits_url(public_url, settings),
            )
            out.append(
                Preview(
                    plan.due.moment,
                    plan.due.rule,
                    tuple(i.friendly_id for i in plan.due.invoices),
                    plan.recipient.email,
                    plan.recipient.language,
                    mail.subject,
                )
            )
    return sorted(out, key=lambda p: (p.moment, p.rule, p.invoice_ids, p.recipient))
