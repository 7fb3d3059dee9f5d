"""Exports: the filters of the API, formula escaping, numbers kept numbers, streaming."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from connector.bulk.export import export_text
from connector.bulk.filters import account_export_filter, invoice_export_filter
from connector.credit.account_changes import update_account
from connector.credit.account_search import AccountFilter
from connector.credit.accounts import close_account, open_account
from connector.credit.invoice_search import InvoiceFilter
from connector.credit.invoices import pay_invoice, update_invoice
from connector.credit.models import Account
from connector.credit.reservations import reserve
from connector.credit.settings import StoreSettings
from connector.credit.settlements import settle_reservation
from connector.credit.statements import adjust_balance
from connector.db import Database
from connector.errors import ValidationError
from tests.bulk.conftest import RunImport, WriteFile, counts
from tests.factories import NOW, valid_cnpj


def account_filter(params: dict[str, str]) -> AccountFilter:
    return account_export_filter(params, StoreSettings())


def invoice_filter(params: dict[str, str]) -> InvoiceFilter:
    return invoice_export_filter(params, StoreSettings())


def rows_of(text: str, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def export(db: Database, kind: str, f: object, **kwargs: object) -> str:
    return "".join(export_text(db, kind, f, now=NOW + timedelta(days=45), **kwargs))  # type: ignore[arg-type]


def test_accounts_export_has_the_template_columns_first_and_plain_numbers(db: Database) -> None:
    with db.transaction() as session:
        a = open_account(
            session,
            email="=cmd@example.com",
            credit_limit_cents=123_456,
            tolerance_bps=500,
            document="1",
            document_type="Other",
            company_name="Comércio  Exemplo Ltda ",
            now=NOW,
        )
        adjust_balance(session, a.id, -200_000, now=NOW)  # below zero: a negative balance
        closed = open_account(session, email="gone@example.com", credit_limit_cents=1, now=NOW)
        close_account(session, closed.id, now=NOW)
    text = export(db, "accounts", AccountFilter())
    [row] = rows_of(text)
    assert list(row)[:5] == [
        "Email",
        "Document",
        "Document Type",
        "Credit limit",
        "Tolerance (fraction or %)",
    ]
    assert row["Email"] == "'=cmd@example.com"  # escaped: a spreadsheet would run it
    # the tolerance as a percentage with its sign, as a spreadsheet shows and saves it
    assert (row["Credit limit"], row["Tolerance (fraction or %)"]) == ("1234.56", "5%")
    assert (row["Balance"], row["Available credit"]) == ("-2000.00", "-765.44")  # numbers stay
    # Moments on the store's clock (São Paulo by default), with their offset.
    assert row["Company name"] == "Comércio Exemplo Ltda"  # its spaces tidied when stored
    assert row["Id"] == "1_Other" and row["Created at"] == "2026-03-02T09:00:00-03:00"
    every = rows_of(export(db, "accounts", account_filter({"status": "all"})))
    assert {r["Status"] for r in every} == {"Open", "Closed"}
    semicolon = rows_of(export(db, "accounts", AccountFilter(), delimiter=";"), ";")
    assert (semicolon[0]["Credit limit"], semicolon[0]["Balance"]) == ("1234,56", "-2000,00")


def test_the_accounts_export_imports_back_unchanged(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    with db.transaction() as session:
        for n in range(5):
            open_account(
                session,
                email=f"u{n}@example.com",
                credit_limit_cents=10_000 * n,
                tolerance_bps=100 * n,
                document=valid_cnpj(n) if n % 2 else None,
                document_type="CNPJ" if n % 2 else None,
                company_name=f"Company {n}" if n % 2 else None,
                now=NOW,
            )
    path = write_file(export(db, "accounts", AccountFilter()), name="accounts.csv")
    job = run_file(path, mode="update")
    assert counts(job) == (0, 0, 5, 0)
    assert set(job.ignored_columns) >= {"Status", "Balance"}


@pytest.mark.parametrize(
    ("delimiter", "written"),
    [
        (",", ["10%", "12.5%", "0.01%", "0%", "100%"]),
        (";", ["10%", "12,5%", "0,01%", "0%", "100%"]),
    ],
)
def test_the_tolerance_goes_out_as_a_percentage_and_comes_back_exactly(
    db: Database, write_file: WriteFile, run_file: RunImport, delimiter: str, written: list[str]
) -> None:
    tolerances = [1000, 1250, 1, 0, 10_000]
    with db.transaction() as session:
        ids = [
            open_account(
                session, email=f"t{n}@example.com", credit_limit_cents=10_000, tolerance_bps=bps
            ).id
            for n, bps in enumerate(tolerances)
        ]
    text = export(db, "accounts", AccountFilter(), delimiter=delimiter)
    exported = rows_of(text, delimiter)
    by_email = {row["Email"]: row["Tolerance (fraction or %)"] for row in exported}
    assert [by_email[f"t{n}@example.com"] for n in range(len(tolerances))] == written
    with db.transaction() as session:  # lose every tolerance, then import the export back
        for account_id in ids:
            update_account(session, account_id, tolerance_bps=0)
    job = run_file(write_file(text, name="accounts.csv"), mode="update")
    assert counts(job) == (0, 4, 1, 0)  # the one at 0 % is unchanged
    with db.transaction() as session:
        assert [session.get(Account, i).tolerance_bps for i in ids] == tolerances  # type: ignore[union-attr]


@pytest.fixture
def purchases(db: Database) -> dict[str, list[str]]:
    with db.transaction() as session:
        a = open_account(session, email="a@example.com", credit_limit_cents=10**7, now=NOW)
        b = open_account(session, email="b@example.com", credit_limit_cents=10**7, now=NOW)
        out = {}
        for account, cents, n, order, days in (
            (a, 30_000, 3, "order-a", 0),
            (b, 7_000, 1, "order-b", 20),
        ):
            reservation = reserve(
                session, account.id, cents, installments=n, order_id=order, now=NOW
            )
            settled = settle_reservation(session, reservation.id, now=NOW + timedelta(days=days))
            out[account.id] = [i.id for i in settled.invoices]
        first = out[a.id][0]
        pay_invoice(session, first, now=NOW)
        update_invoice(session, out[a.id][1], observation="@SUM(A1:A9)", now=NOW)
        update_invoice(session, out[b.id][0], observation="-5 and\ta tab", now=NOW)
        out["a"], out["b"], out["a_id"] = out[a.id], out[b.id], [a.id]
    return out


def test_invoices_export_uses_the_api_filters(
    db: Database, purchases: dict[str, list[str]]
) -> None:
    everything = rows_of(export(db, "invoices", InvoiceFilter()))
    assert len(everything) == 4
    assert everything[0]["Id"] == purchases["b"][0]  # newest first, as the API
    by_id = {r["Id"]: r for r in everything}
    first = by_id[purchases["a"][0]]
    assert (first["Status"], first["Value"], first["Email"], first["Order id"]) == (
        "Paid",
        "100.00",
        "a@example.com",
        "order-a",
    )
    assert by_id[purchases["a"][1]]["Observation"] == "'@SUM(A1:A9)"
    # Due dates are the store's days: +30, +60 and +90 from Monday 2026-03-02; May 1 (a
    # holiday, Friday) moves to Monday May 4, Sunday May 31 to Monday June 1.
    assert [by_id[i]["Due date"] for i in purchases["a"]] == [
        "2026-04-01",
        "2026-05-04",
        "2026-06-01",
    ]
    assert by_id[purchases["b"][0]]["Observation"] == "'-5 and\ta tab"
    # 45 days on, a's second installment (due +60) is not overdue; its first (+30) was paid.
    overdue = rows_of(export(db, "invoices", invoice_filter({"status": "Overdue"})))
    assert overdue == []
    later = "".join(
        export_text(
            db, "invoices", invoice_filter({"status": "overdue"}), now=NOW + timedelta(days=70)
        )
    )
    assert {r["Id"] for r in rows_of(later)} == {purchases["a"][1], purchases["b"][0]}
    paid = rows_of(export(db, "invoices", invoice_filter({"status": "Paid,Cancelled"})))
    assert [r["Id"] for r in paid] == [purchases["a"][0]]
    either = invoice_filter({"friendlyId": "nope", "orderId": "order-b", "op": "or"})
    assert [r["Id"] for r in rows_of(export(db, "invoices", either))] == purchases["b"]
    of_a = rows_of(
        export(db, "invoices", invoice_filter({"creditAccountId": purchases["a_id"][0]}))
    )
    assert {r["Id"] for r in of_a} == set(purchases["a"])
    created = invoice_filter({"createdDateFrom": "2026-03-22", "createdDateTo": "2026-03-22"})
    assert [r["Id"] for r in rows_of(export(db, "invoices", created))] == purchases["b"]
    assert (
        rows_of(export(db, "invoices", invoice_filter({"value": "70,00"})))[0]["Value"] == "70.00"
    )


@pytest.mark.parametrize(
    "params",
    [
        {"status": "Late"},
        {"value": "abc"},
        {"dueDateFrom": "tomorrow"},
        {"op": "xor"},
        {"page": "2"},
    ],
)
def test_bad_invoice_filters_name_the_parameter(params: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as error:
        invoice_filter(params)
    assert error.value.fields


def test_an_export_streams_in_pieces_from_one_snapshot(db: Database) -> None:
    with db.transaction() as session:
        for n in range(3000):
            open_account(session, email=f"u{n}@example.com", credit_limit_cents=n, now=NOW)
    pieces = export_text(db, "accounts", AccountFilter())
    first = next(pieces)
    # A write while the export is half read neither waits for it nor shows up in it.
    with db.transaction() as session:
        open_account(session, email="late@example.com", credit_limit_cents=1, now=NOW)
    rest = list(pieces)
    assert len(rest) >= 2
    assert len(rows_of(first + "".join(rest))) == 3000
