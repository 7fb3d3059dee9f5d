"""Invoice import: export, edit Status / Payment link / Observation, import again."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from connector.bulk.export import export_text
from connector.credit.accounts import open_account
from connector.credit.check import find_drift
from connector.credit.invoice_search import InvoiceFilter
from connector.credit.invoices import pay_invoice
from connector.credit.models import Account, Invoice, StatementEntry
from connector.credit.reservations import reserve
from connector.credit.settlements import settle_reservation
from connector.db import Database
from tests.bulk.conftest import RunImport, WriteFile, counts, row_errors
from tests.factories import NOW


@pytest.fixture
def invoices(db: Database) -> list[str]:
    """Two purchases of one account: 300.00 in three installments, 50.00 in one."""
    with db.transaction() as session:
        account = open_account(
            session, email="buyer@example.com", credit_limit_cents=100_000, now=NOW
        )
        ids = []
        for cents, n, order in ((30_000, 3, "order-1"), (5_000, 1, "order-2")):
            reservation = reserve(
                session, account.id, cents, installments=n, order_id=order, now=NOW
            )
            ids += [i.id for i in settle_reservation(session, reservation.id, now=NOW).invoices]
    return ids


def exported(db: Database, tmp_path: Path, *, delimiter: str = ",") -> str:
    text = "".join(export_text(db, "invoices", InvoiceFilter(), delimiter=delimiter, now=NOW))
    return text


def state(db: Database) -> dict[str, tuple[str, str | None, str | None]]:
    with db.transaction() as session:
        return {
            i.id: (i.status, i.payment_link, i.observation)
            for i in session.scalars(select(Invoice))
        }


def balance(db: Database) -> int:
    with db.transaction() as session:
        account = session.scalar(select(Account))
        assert account is not None
        return account.balance_cents


def test_paying_from_a_file_restores_credit_as_the_api_does(
    db: Database, write_file: WriteFile, run_file: RunImport, invoices: list[str]
) -> None:
    first, second, third, single = invoices
    assert balance(db) == -35_000
    path = write_file(
        "Id,Status,Payment link,Observation\n"
        f"{first},Paid,,paid by boleto\n"
        f"{second},Cancelled,,\n"
        f"{third},Opened,https://pay.example.com/3,\n"
        f"{single},Open,,\n"
    )
    job = run_file(path, "invoices", "update")
    assert (job.status, counts(job)) == ("completed", (0, 3, 1, 0))
    assert state(db) == {
        first: ("Paid", None, "paid by boleto"),
        second: ("Cancelled", None, None),
        third: ("Opened", "https://pay.example.com/3", None),
        single: ("Opened", None, None),
    }
    assert balance(db) == -35_000 + 10_000 + 10_000
    with db.transaction() as session:
        origins = sorted(
            (e.origin, e.value_cents, e.done_by)
            for e in session.scalars(
                select(StatementEntry).where(StatementEntry.origin.in_(("Payment", "Cancellation")))
            )
        )
        assert origins == [("Cancellation", 10_000, "tester"), ("Payment", 10_000, "tester")]
        assert find_drift(session) == []
    again = run_file(path, "invoices", "update")
    assert counts(again) == (0, 0, 4, 0)
    assert balance(db) == -15_000


def test_the_export_is_the_template(
    db: Database, tmp_path: Path, write_file: WriteFile, run_file: RunImport, invoices: list[str]
) -> None:
    text = exported(db, tmp_path, delimiter=";")
    unchanged = run_file(write_file(text, encoding="utf-8-sig"), "invoices", "update")
    assert (unchanged.delimiter, counts(unchanged)) == (";", (0, 0, 4, 0))
    assert "Overdue" in unchanged.ignored_columns  # read-only columns are ignored
    edited = text.replace(";Opened;", ";Pagado;", 1).replace("order-2", "changed-order")
    job = run_file(write_file(edited, encoding="utf-8-sig"), "invoices", "update")
    assert counts(job) == (0, 1, 3, 0)
    assert [s for s, _l, _o in state(db).values()].count("Paid") == 1
    with db.transaction() as session:
        assert (
            session.scalar(select(Invoice.order_id).where(Invoice.id == invoices[3])) == "order-2"
        )


def test_missing_columns_keep_and_empty_cells_clear(
    db: Database, write_file: WriteFile, run_file: RunImport, invoices: list[str]
) -> None:
    first = invoices[0]
    run_file(
        write_file(f"Id,Payment link,Observation\n{first},https://p.example.com,note\n"),
        "invoices",
        "update",
    )
    run_file(write_file(f"Id,Status\n{first},\n"), "invoices", "update")
    assert state(db)[first] == ("Opened", "https://p.example.com", "note")
    job = run_file(write_file(f"Id,Observation\n{first},\n"), "invoices", "update")
    assert counts(job) == (0, 1, 0, 0)
    assert state(db)[first] == ("Opened", "https://p.example.com", None)


def test_every_kind_of_bad_invoice_row(
    db: Database, write_file: WriteFile, run_file: RunImport, invoices: list[str]
) -> None:
    first, second, third, single = invoices
    with db.transaction() as session:
        pay_invoice(session, first, now=NOW)
    path = write_file(
        "Título;Estado;Link de pagamento;Observação\n"
        f"{first};Cancelado;;\n"  # 2: a paid invoice cannot be cancelled
        f"{first};Aberto;;\n"  # 3: nor reopened
        f"{second};Maybe;;\n"  # 4: no such status
        "no-such-invoice;Pago;;\n"  # 5
        ";Pago;;\n"  # 6: no id
        f"{third};;ftp://nope;\n"  # 7: not an http(s) link
        f"{single};Pago;;{'x' * 4001}\n"  # 8: observation too long, so not paid either
        f"{second};Pago;;\n"  # 9: good
        f"{second};Cancelado;;\n"  # 10: row 9 paid it
        f"{second};x;y;z;extra\n"  # 11: more cells than columns
    )
    job = run_file(path, "invoices", "update")
    assert counts(job) == (0, 1, 0, 9)
    assert [(r, col, code) for r, col, _v, code in row_errors(db, job.id)] == [
        (2, "Estado", "invoice_paid"),
        (3, "Estado", "invoice_not_open"),
        (4, "Estado", "invalid_status"),
        (5, "Título", "invoice_not_found"),
        (6, "Título", "required"),
        (7, "Link de pagamento", "invalid_request"),
        (8, "Observação", "invalid_request"),
        (10, "Estado", "invoice_paid"),
        (11, None, "too_many_cells"),
        (11, "Estado", "invalid_status"),
    ]
    assert state(db)[single] == ("Opened", None, None)
    assert state(db)[second][0] == "Paid"
    with db.transaction() as session:
        assert find_drift(session) == []


def test_dry_run_reports_refusals_and_changes_nothing(
    db: Database, write_file: WriteFile, run_file: RunImport, invoices: list[str]
) -> None:
    first, second, *_ = invoices
    with db.transaction() as session:
        pay_invoice(session, first, now=NOW)
    before = state(db), balance(db)
    path = write_file(f"Id,Status\n{first},Cancelled\n{second},Paid\n")
    job = run_file(path, "invoices", "update", dry_run=True)
    assert counts(job) == (0, 1, 0, 1)
    assert (state(db), balance(db)) == before


def test_a_file_records_how_invoices_were_paid_and_their_late_charges(
    db: Database,
    write_file: WriteFile,
    run_file: RunImport,
    invoices: list[str],
    store: Callable[..., None],
) -> None:
    """2 % late fee and 0.1 % a day; the first invoice (100.00) is due 2026-04-01."""
    store(tax_rate=Decimal("0.02"), daily_interest_rate=Decimal("0.001"))
    first, second, third, single = invoices
    path = write_file(
        "Id;Status;Pago em;Forma de pagamento;Referência;Valor recebido\n"
        f"{first};Pago;15/04/2026;Transferência;TED 991;103,40\n"  # 14 days late
        f"{second};Pago;31-12-2026;cheque;;\n"
        f"{third};Pago;2026-04-01;Pix;E2E;99,99\n"  # below the value
    )
    job = run_file(path, "invoices", "update")
    assert counts(job) == (0, 1, 0, 2)
    errors = {(row, column, code) for row, column, _value, code in row_errors(db, job.id)}
    assert errors == {
        (3, "Pago em", "invalid_date"),
        (3, "Forma de pagamento", "invalid_payment_method"),
        (4, "Valor recebido", "invalid_request"),
    }
    with db.transaction() as session:
        paid = session.get(Invoice, first)
        assert paid is not None
        assert (paid.status, paid.paid_on, paid.payment_method, paid.payment_reference) == (
            "Paid",
            date(2026, 4, 15),
            "transfer",
            "TED 991",
        )
        assert (paid.received_cents, paid.late_fee_cents, paid.interest_cents) == (
            10_340,
            200,
            140,
        )
        assert find_drift(session) == []
    exported_rows = list(csv.DictReader(io.StringIO(exported(db, Path()))))
    by_id = {row["Id"]: row for row in exported_rows}
    assert (by_id[first]["Amount due"], by_id[first]["Amount received"]) == ("0.00", "103.40")
    assert (by_id[first]["Late fee"], by_id[first]["Interest"]) == ("2.00", "1.40")
    assert (by_id[first]["Paid on"], by_id[first]["Payment method"]) == ("2026-04-15", "transfer")
    # The export's own day is NOW (2026-03-02): nothing else is overdue yet.
    assert by_id[single]["Amount due"] == "50.00" and by_id[single]["Paid on"] == ""
