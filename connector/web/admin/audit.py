"""The audit trail in the admin: an account's and an invoice's activity, the searchable
trail (``/admin/audit``) and its CSV export. Every role may read it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from flask import request
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from connector import audit
from connector.audit import ACTIONS, ACTOR_KINDS, AuditEntry, AuditFilter
from connector.bulk.csvio import Cell, csv_text
from connector.bulk.templates import Lang, default_delimiter
from connector.context import get_db, now
from connector.jsonio import dumps
from connector.web import i18n
from connector.web.admin.base import bp
from connector.web.pages import (
    Page,
    csv_download,
    money,
    page_from_request,
    parse_day,
    render,
    store_settings,
    with_filters,
)

ACTIVITY_SIZE = 10


def action_label(action: str) -> str:
    """An action's name in the page's language."""
    labels = {
        "account.opened": i18n.gettext("Account opened"),
        "account.credit": i18n.gettext("Credit changed"),
        "account.details": i18n.gettext("Details changed"),
        "account.closed": i18n.gettext("Account closed"),
        "account.adjusted": i18n.gettext("Manual adjustment"),
        "holder.added": i18n.gettext("Dependent added"),
        "holder.removed": i18n.gettext("Dependent removed"),
        "holder.mail": i18n.gettext("E-mail preferences changed"),
        "invoice.paid": i18n.gettext("Invoice marked paid"),
        "invoice.cancelled": i18n.gettext("Invoice cancelled"),
        "invoice.changed": i18n.gettext("Invoice changed"),
        "invoice.postponed": i18n.gettext("Invoice postponed"),
        "review.approved": i18n.gettext("Review approved"),
        "review.denied": i18n.gettext("Review denied"),
        "settings.saved": i18n.gettext("Settings saved"),
        "key.created": i18n.gettext("API key created"),
        "key.revoked": i18n.gettext("API key revoked"),
        "connection.revoked": i18n.gettext("Connection revoked"),
        "staff.created": i18n.gettext("Staff user added"),
        "staff.disabled": i18n.gettext("Staff user disabled"),
        "staff.role": i18n.gettext("Role changed"),
        "staff.password": i18n.gettext("Password changed"),
    }
    return labels.get(action, action)


def actor_kind_label(kind: str) -> str:
    labels = {
        audit.STAFF: i18n.gettext("Staff"),
        audit.KEY: i18n.gettext("API key"),
        audit.IMPORT: i18n.gettext("Import"),
        audit.JOB: i18n.gettext("Scheduled job"),
        audit.CUSTOMER: i18n.gettext("Customer"),
        audit.SYSTEM: i18n.gettext("System"),
    }
    return labels.get(kind, kind)


def _field_label(name: str) -> str:
    labels = {
        "credit_limit_cents": i18n.gettext("Credit limit"),
        "tolerance_bps": i18n.gettext("Tolerance"),
        "email": i18n.gettext("E-mail"),
        "document": i18n.gettext("Document"),
        "document_type": i18n.gettext("Document type"),
        "status": i18n.gettext("Status"),
        "due_date": i18n.gettext("Due date"),
        "observation": i18n.gettext("Observation"),
        "payment_link": i18n.gettext("Payment link"),
        "paid_on": i18n.gettext("Paid on"),
        "payment_method": i18n.gettext("Payment method"),
        "payment_reference": i18n.gettext("Reference"),
        "received_cents": i18n.gettext("Received"),
        "late_fee_cents": i18n.gettext("Late fee"),
        "interest_cents": i18n.gettext("Interest"),
        "value_cents": i18n.gettext("Value"),
        "statement_id": i18n.gettext("Statement id"),
        "role": i18n.gettext("Role"),
        "label": i18n.gettext("Label"),
        "name": i18n.gettext("Name"),
        "disabled": i18n.gettext("Disabled"),
        "revoked": i18n.gettext("Revoked"),
        "key": i18n.gettext("API key"),
        "language": i18n.gettext("Language"),
        "mails": i18n.gettext("Receives e-mails"),
    }
    # Store settings keep their field names: the settings page is where they are worded.
    return labels.get(name, name)


def _status_text(value: str, subject_kind: str) -> str:
    """A stored status as the pages' badges word it: an account's and an invoice's in
    their own grammatical context (``macros.html``), so "Open" agrees with its noun."""
    if subject_kind == "account" and value in ("Open", "Closed"):
        by_noun = {
            "Open": i18n.pgettext("account status", "Open"),
            "Closed": i18n.pgettext("account status", "Closed"),
        }
        return by_noun[value]
    if subject_kind == "invoice" and value in ("Opened", "Paid", "Cancelled"):
        by_noun = {
            "Opened": i18n.pgettext("invoice status", "Open"),
            "Paid": i18n.pgettext("invoice status", "Paid"),
            "Cancelled": i18n.pgettext("invoice status", "Cancelled"),
        }
        return by_noun[value]
    words = {
        "Open": i18n.gettext("Open"),
        "Opened": i18n.gettext("Open"),
        "Paid": i18n.gettext("Paid"),
        "Cancelled": i18n.gettext("Cancelled"),
        "Closed": i18n.gettext("Closed"),
        "pending": i18n.gettext("Waiting"),
        "approved": i18n.gettext("Approved"),
        "denied": i18n.gettext("Denied"),
        "connected": i18n.gettext("Connected"),
        "revoked": i18n.gettext("Revoked"),
    }
    return words.get(value, value)


def _value_text(name: str, value: Any, subject_kind: str) -> str:
    if value is None or value == "":
        return "—"
    if name == "status" and isinstance(value, str):
        return _status_text(value, subject_kind)
    if isinstance(value, bool):
        return i18n.gettext("yes") if value else i18n.gettext("no")
    if name.endswith("_cents") and isinstance(value, int):
        return money(value)
    if name.endswith("_bps") and isinstance(value, int):
        return i18n.percent_bps(value)
    if name.endswith(("_date", "_on")) and isinstance(value, str):
        try:
            return i18n.day(date.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, (dict, list)):
        return dumps(value)
    return str(value)


@dataclass(frozen=True)
class FieldChange:
    label: str
    before: str | None  # None: the field was not there before (a new thing)
    after: str | None  # None: it is gone (a removed thing)


def field_changes(entry: AuditEntry) -> list[FieldChange]:
    """An entry's before and after, field by field, worded for the page."""
    names = list(dict.fromkeys([*entry.before, *entry.after]))
    return [
        FieldChange(
            _field_label(name),
            _value_text(name, entry.before[name], entry.subject_kind)
            if name in entry.before
            else None,
            _value_text(name, entry.after[name], entry.subject_kind)
            if name in entry.after
            else None,
        )
        for name in names
    ]


def activity_for(*, account_id: str | None = None, subject_id: str | None = None) -> dict[str, Any]:
    """The activity section of an account's or an invoice's page: latest first, paged by
    the ``activity`` query argument (the page's own ``page`` is left alone)."""
    raw = request.args.get("activity", "1")
    number = int(raw) if raw.isdigit() and int(raw) > 0 else 1

    def load(session: Session) -> tuple[list[AuditEntry], int]:
        found = audit.entries_of(
            session,
            account_id=account_id,
            subject_id=subject_id,
            limit=ACTIVITY_SIZE,
            offset=(number - 1) * ACTIVITY_SIZE,
        )
        session.expunge_all()  # kept as read: the snapshot's rollback would expire them
        return found

    rows, total = get_db().run(load, read_only=True)
    return {"activity": rows, "activity_page": Page(number, ACTIVITY_SIZE, total)}


def _filter_from_request() -> AuditFilter:
    args = request.args
    action = args.get("action", "")
    return AuditFilter(
        actor=args.get("actor", "").strip()[:260],
        action=action if action in ACTIONS else "",
        account_id=args.get("account", "").strip()[:120],
        since=parse_day(args.get("from")),
        until=parse_day(args.get("to"), end=True),
        text=args.get("q", "").strip()[:200],
    )


@bp.get("/audit")
def audit_trail() -> tuple[str, int]:
    where = _filter_from_request()

    def load(session: Session) -> dict[str, Any]:
        page = page_from_request(audit.count_entries(session, where))
        rows = audit.search_entries(session, where, limit=page.size, offset=page.offset)
        session.expunge_all()  # kept as read: the snapshot's rollback would expire them
        return {"page": page, "rows": rows}

    return render(
        "admin/audit.html",
        args=request.args,
        actions=[(action, action_label(action)) for action in ACTIONS],
        actor_kinds=[(kind, actor_kind_label(kind)) for kind in ACTOR_KINDS],
        export_url=with_filters("admin.export_audit"),
        **get_db().run(load, read_only=True),
    )


@bp.get("/audit/export")
def export_audit() -> WerkzeugResponse:
    """The trail as filtered, streamed from one snapshot; every text cell is escaped, so an
    actor or a note that starts like a formula stays text in a spreadsheet."""
    where = _filter_from_request()
    settings = store_settings()
    moment = now()
    header = [
        i18n.gettext("When"),
        i18n.gettext("Who"),
        i18n.gettext("Actor"),
        i18n.gettext("Action"),
        i18n.gettext("Subject"),
        i18n.gettext("Account"),
        i18n.gettext("Before"),
        i18n.gettext("After"),
        i18n.gettext("Note"),
    ]

    def rows() -> Iterator[list[Cell]]:
        with get_db().transaction(read_only=True) as session:
            for entry in _stream(session, where):
                yield [
                    entry.at,
                    entry.actor_kind,
                    entry.actor_id,
                    entry.action,
                    f"{entry.subject_kind}:{entry.subject_id}",
                    entry.account_id,
                    dumps(entry.before) if entry.before else "",
                    dumps(entry.after) if entry.after else "",
                    entry.note,
                ]

    delimiter = default_delimiter(cast(Lang, i18n.current_language()))
    pieces = csv_text(header, rows(), delimiter=delimiter, zone=settings.zone())
    return csv_download(pieces, f"audit-{moment:%Y%m%d-%H%M%S}.csv")


def _stream(session: Session, where: AuditFilter) -> Iterator[AuditEntry]:
    query = audit.entries_query(where).execution_options(yield_per=1000)
    yield from session.scalars(query)


@bp.context_processor
def _audit_words() -> dict[str, Any]:
    """What the activity templates call to word an entry."""
    return {
        "action_label": action_label,
        "actor_label": actor_kind_label,
        "field_changes": field_changes,
    }
