"""An import's changes are on the audit trail, one entry per row it changed, by the import."""

from __future__ import annotations

from sqlalchemy import select

from connector.audit import AuditEntry
from connector.db import Database
from tests.bulk.conftest import RunImport, WriteFile
from tests.factories import valid_cpf

HEADER = "Email,Document,Document Type,Credit limit,Tolerance rate\n"
CPF_1, CPF_2 = valid_cpf(1), valid_cpf(2)


def _trail(db: Database) -> list[tuple[str, str, str, str]]:
    with db.transaction() as session:
        return [
            (e.actor_kind, e.actor_id, e.action, e.subject_id)
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def test_an_import_records_each_row_it_changed_and_a_dry_run_nothing(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    path = write_file(
        HEADER + f"ana@example.com,{CPF_1},CPF,100,\nbob@example.com,{CPF_2},CPF,200,\n"
    )
    assert run_file(path, dry_run=True).status == "completed"
    assert _trail(db) == []  # a dry run is rolled back, its entries with it
    job = run_file(path)
    assert _trail(db) == [
        ("import", job.id, "account.opened", f"{CPF_1}_CPF"),
        ("import", job.id, "account.opened", f"{CPF_2}_CPF"),
    ]
    update = write_file(f"Document,Credit limit\n{CPF_1},100\n{CPF_2},300\n", name="u.csv")
    again = run_file(update, mode="update")
    assert (again.updated_count, again.unchanged_count) == (1, 1)
    assert _trail(db)[2:] == [("import", again.id, "account.credit", f"{CPF_2}_CPF")]
