"""The audit trail from each edge (the admin, the API, a job) and in the admin's pages."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select

from connector import audit
from connector.audit import AuditEntry
from connector.credit.account_changes import change_credit_limit
from connector.credit.invoices import pay_invoice
from connector.db import Database
from connector.jobs.scheduler import _job
from tests.factories import ADMIN_KEY, Seeded
from tests.web.conftest import STAFF_EMAIL, post_form, text_of


def _trail(db: Database) -> list[tuple[str, str, str]]:
    with db.transaction() as session:
        return [
            (e.actor_kind, e.actor_id, e.action)
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def test_each_edge_names_its_actor(
    admin_client: FlaskClient,
    db: Database,
    seed: Callable[..., Seeded],
    admin_headers: dict[str, str],
) -> None:
    seeded = seed()
    before = len(_trail(db))
    path = f"/admin/accounts/{seeded.account_id}/credit"
    assert (
        post_form(admin_client, path, {"creditLimit": "2000", "tolerance": "0"}).status_code == 302
    )
    api = admin_client.put(
        f"/api/creditcontrol/accounts/{seeded.account_id}/creditlimit",
        json={"value": 3000},
        headers=admin_headers,
    )
    assert api.status_code == 200, api.text

    def settle_job() -> int:
        with db.transaction() as session:
            pay_invoice(session, seeded.invoice_ids[0])
        return 1

    _job("collect", settle_job)()
    assert _trail(db)[before:] == [
        ("staff", STAFF_EMAIL, "account.credit"),
        ("key", ADMIN_KEY, "account.credit"),
        ("job", "collect", "invoice.paid"),
    ]
    # The actor does not outlive its request or job.
    assert audit.current_actor() == audit.NOBODY


def test_the_account_and_invoice_pages_show_their_activity(
    admin_client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed()
    invoice_id = seeded.invoice_ids[0]
    credit = {"creditLimit": "2000", "tolerance": "0"}
    assert (
        post_form(admin_client, f"/admin/accounts/{seeded.account_id}/credit", credit).status_code
        == 302
    )
    paid = post_form(admin_client, f"/admin/invoices/{invoice_id}/pay", {"confirmed": "1"})
    assert paid.status_code == 302
    account_page = text_of(admin_client.get(f"/admin/accounts/{seeded.account_id}"))
    assert "Activity" in account_page
    activity = account_page[account_page.index("Activity Audit trail") :]
    assert "Credit changed" in activity and "Staff staff@store.example" in activity
    assert "Credit limit R$1,000.00 → R$2,000.00" in account_page
    assert "Invoice marked paid" in account_page and "Account opened" in account_page
    invoice_page = text_of(admin_client.get(f"/admin/invoices/{invoice_id}"))
    assert "Invoice marked paid" in invoice_page and "Status Open → Paid" in invoice_page
    assert "Credit changed" not in invoice_page


def test_activity_is_paged_latest_first(
    admin_client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed()
    with db.transaction() as session:
        for cents in range(1, 13):
            change_credit_limit(session, seeded.account_id, cents * 100_000)
    first = admin_client.get(f"/admin/accounts/{seeded.account_id}").text
    assert "<del>R$11,000.00</del> → <ins>R$12,000.00</ins>" in first
    assert first.count("Credit changed") == 10 and "Account opened" not in first
    second = admin_client.get(f"/admin/accounts/{seeded.account_id}?activity=2").text
    assert "Account opened" in second and "Page 2 of 2" in second


def _results(client: FlaskClient, path: str) -> str:
    """The audit page's entries (the text after its filters, whose choices name actions)."""
    return text_of(client.get(path)).split(" Clear ", 1)[1]


def test_the_audit_page_filters_and_exports(
    admin_client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed()
    with audit.acting_as(audit.STAFF, '=HYPERLINK("http://evil")'), db.transaction() as session:
        change_credit_limit(session, seeded.account_id, 5_000_00)
    everything = _results(admin_client, "/admin/audit")
    assert "Account opened" in everything and "Credit changed" in everything
    only = _results(admin_client, "/admin/audit?action=account.credit")
    assert "Credit changed" in only and "Account opened" not in only
    by_who = _results(admin_client, "/admin/audit?actor=system")
    assert "Account opened" in by_who and "Credit changed" not in by_who
    assert "Credit changed" in _results(admin_client, "/admin/audit?q=hyperlink")
    assert "No activity yet." in admin_client.get("/admin/audit?from=2000-01-01&to=2000-01-02").text
    assert admin_client.get("/admin/audit?from=nonsense&action=nope&page=x").status_code == 200
    export = admin_client.get("/admin/audit/export?action=account.credit")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == [
        "When",
        "Who",
        "Actor",
        "Action",
        "Subject",
        "Account",
        "Before",
        "After",
        "Note",
    ]
    [row] = rows[1:]
    assert row[1:4] == ["staff", '\'=HYPERLINK("http://evil")', "account.credit"]
    assert row[6:8] == ['{"credit_limit_cents": 100000}', '{"credit_limit_cents": 500000}']
