"""Which invoice mails are due: the store's rules, its clock, and the invoices they pick.

Rules are named as the ``notifications`` table keeps them: ``issued`` (a purchase was
invoiced), ``paid`` (an invoice was paid), ``before:3`` and ``after:1`` (the store's
``reminders_before`` and ``reminders_after``: so many days before or after the due date,
at a time of day in the store's zone).

A reminder's moment is ``time_of_day`` on its day in the store's zone. It is sent from
that moment for one day, so a scheduler that was down catches up, but a reminder whose
moment passed more than a day ago (the service was off, or the rule was added since) is
not sent late; nor is one about an invoice issued after its moment. ``issued`` and
``paid`` are sent within a day of the event, when the store asks for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from connector.credit.models import Invoice, InvoiceStatus
from connector.credit.settings import Reminder, StoreSettings

ISSUED, PAID = "issued", "paid"
EVENT_WINDOW = timedelta(days=1)  # how late a mail about an event (or a reminder) may go


@dataclass(frozen=True)
class Rule:
    """One reminder rule: ``before`` or ``after`` the due date by ``days``, at ``at``."""

    side: str  # "before" or "after"
    days: int
    at: time

    @property
    def name(self) -> str:
        return f"{self.side}:{self.days}"

    def due_date_for(self, moment_day: date) -> date:
        """The due date of the invoices this rule reminds of on ``moment_day``."""
        offset = timedelta(days=self.days)
        return moment_day + offset if self.side == "before" else moment_day - offset


def rules_of(settings: StoreSettings) -> list[Rule]:
    def rule(side: str, reminder: Reminder) -> Rule:
        return Rule(side, reminder.days, time.fromisoformat(reminder.time_of_day))

    return [rule("before", r) for r in settings.reminders_before] + [
        rule("after", r) for r in settings.reminders_after
    ]


@dataclass(frozen=True)
class Due:
    """A mail to write: a rule and the invoices it is about (one, or the invoices one
    settlement issued together), at the moment it became due."""

    rule: str
    invoices: tuple[Invoice, ...]
    moment: datetime  # UTC


def due_now(session: Session, settings: StoreSettings, now: datetime) -> Iterator[Due]:
    """Every mail due at ``now`` by the store's rules, sent or not (the caller skips the
    ones its table has)."""
    zone = settings.zone()
    local = now.astimezone(zone)
    for rule in rules_of(settings):
        # The latest moment of this rule not after now: today's, or yesterday's.
        day = local.date() if local.time() >= rule.at else local.date() - timedelta(days=1)
        moment = datetime.combine(day, rule.at, tzinfo=zone)
        invoices = session.scalars(
            select(Invoice)
            .where(
                Invoice.status == InvoiceStatus.OPENED,
                Invoice.due_date == rule.due_date_for(day),
                Invoice.created_at <= moment,
            )
            .order_by(Invoice.id)
        )
        for invoice in invoices:
            yield Due(rule.name, (invoice,), moment.astimezone(UTC))
    since = now - EVENT_WINDOW
    if settings.notify_invoice_issued:
        yield from _issued(session, and_(Invoice.created_at > since, Invoice.created_at <= now))
    if settings.notify_invoice_paid:
        paid = session.scalars(
            select(Invoice)
            .where(
                Invoice.status == InvoiceStatus.PAID,
                Invoice.resolved_at > since,
                Invoice.resolved_at <= now,
            )
            .order_by(Invoice.id)
        )
        for invoice in paid:
            assert invoice.resolved_at is not None
            yield Due(PAID, (invoice,), invoice.resolved_at)


def _issued(session: Session, when: ColumnElement[bool]) -> Iterator[Due]:
    """Open invoices issued in a window, one mail per settlement (same purchase, same
    moment): a purchase in three installments is one mail listing three invoices."""
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.status == InvoiceStatus.OPENED, when)
        .order_by(Invoice.reservation_id, Invoice.created_at, Invoice.id)
    ).all()
    groups: dict[tuple[str, datetime], list[Invoice]] = {}
    for invoice in invoices:
        groups.setdefault((invoice.reservation_id, invoice.created_at), []).append(invoice)
    for (_reservation, created_at), group in groups.items():
        yield Due(ISSUED, tuple(group), created_at)


def due_on(session: Session, settings: StoreSettings, day: date) -> Iterator[Due]:
    """The mails of the store's day ``day``: the reminders whose moment falls on it (for
    the invoices open now), and the invoices issued or paid that day. A preview: a day to
    come shows the reminders due then if nothing is paid before."""
    zone = settings.zone()
    for rule in rules_of(settings):
        moment = datetime.combine(day, rule.at, tzinfo=zone)
        invoices = session.scalars(
            select(Invoice)
            .where(
                Invoice.status == InvoiceStatus.OPENED,
                Invoice.due_date == rule.due_date_for(day),
            )
            .order_by(Invoice.id)
        )
        for invoice in invoices:
            yield Due(rule.name, (invoice,), moment.astimezone(UTC))
    start, end = settings.start_of(day), settings.start_of(day + timedelta(days=1))
    if settings.notify_invoice_issued:
        yield from _issued(session, and_(Invoice.created_at >= start, Invoice.created_at < end))
    if settings.notify_invoice_paid:
        paid = session.scalars(
            select(Invoice)
            .where(
                Invoice.status == InvoiceStatus.PAID,
                Invoice.resolved_at >= start,
                Invoice.resolved_at < end,
            )
            .order_by(Invoice.id)
        )
        for invoice in paid:
            assert invoice.resolved_at is not None
            yield Due(PAID, (invoice,), invoice.resolved_at)
