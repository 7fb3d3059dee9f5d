"""Account import: create and update modes, every kind of bad row, dry run, re-runs."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from connector.bulk.history import ImportRowError
from connector.credit.accounts import close_account, open_account
from connector.credit.check import find_drift
from connector.credit.holders import add_holder
from connector.credit.models import Account, StatementEntry
from connector.db import Database
from tests.bulk.conftest import RunImport, WriteFile, counts, ledger_state, row_errors
from tests.factories import NOW, valid_cpf

HEADER = "Email,Document,Document Type,Credit limit,Tolerance rate\n"


def account(db: Database, account_id: str) -> Account:
    with db.transaction() as session:
        found = session.get(Account, account_id)
        assert found is not None
        return found


def no_drift(db: Database) -> None:
    with db.transaction() as session:
        assert find_drift(session) == []


def test_create_opens_accounts_through_the_service(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    path = write_file(
        HEADER
        + 'Ana@Example.com,123.456.789-09,cpf,"1,234.56",0.05\n'
        + "bob@example.com,12.345.678/0001-95,CNPJ,1000,5%\n"
        + "carol@example.com,,,250,\n"
    )
    job = run_file(path)
    assert (job.status, counts(job), job.rows_done, job.rows_total) == (
        "completed",
        (3, 0, 0, 0),
        3,
        3,
    )
    ana = account(db, "12345678909_CPF")
    assert (ana.email, ana.credit_limit_cents, ana.tolerance_bps) == (
        "ana@example.com",
        123456,
        500,
    )
    bob = account(db, "12345678000195_CNPJ")
    assert (bob.credit_limit_cents, bob.tolerance_bps) == (100_000, 500)
    with db.transaction() as session:
        carol = session.scalar(select(Account).where(Account.email == "carol@example.com"))
        assert carol is not None and carol.document is None and carol.tolerance_bps == 0
        credit = session.scalar(
            select(StatementEntry.value_cents).where(StatementEntry.account_id == ana.id)
        )
        assert credit == 123456 + 6172  # limit * (1 + tolerance), rounded down
        done_by = session.scalar(
            select(StatementEntry.done_by).where(StatementEntry.account_id == ana.id)
        )
        assert done_by == "tester"
    no_drift(db)


def test_spanish_semicolon_windows_1252_with_decimal_comma(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    path = write_file(
        "Correo electrónico;Documento;Tipo de documento;Límite de crédito;Tasa de tolerancia\n"
        "josé@ejemplo.com;00000011126;CPF;1.234,56;0,05\n"
        "\n"
        "maría@ejemplo.com;00000022241;CPF;2.000;10%\n",
        encoding="cp1252",
    )
    job = run_file(path)
    assert (job.encoding, job.delimiter, counts(job)) == ("cp1252", ";", (2, 0, 0, 0))
    assert account(db, "00000011126_CPF").credit_limit_cents == 123456
    maria = account(db, "00000022241_CPF")
    assert (maria.email, maria.credit_limit_cents, maria.tolerance_bps) == (
        "maría@ejemplo.com",
        200_000,
        1000,
    )


def test_portuguese_utf8_bom_header(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    path = write_file(
        "E-mail;Documento;Tipo de documento;Limite de crédito;Taxa de tolerância\n"
        "joão@exemplo.com.br;123.456.789-09;CPF;R$ 1.500,00;0,1\n",
        encoding="utf-8-sig",
    )
    job = run_file(path)
    assert (job.encoding, counts(job)) == ("utf-8-sig", (1, 0, 0, 0))
    assert account(db, "12345678909_CPF").credit_limit_cents == 150_000


def test_every_kind_of_bad_row_is_reported_and_good_rows_are_kept(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    with db.transaction() as session:
        open_account(session, email="taken@example.com", credit_limit_cents=1, now=NOW)
    path = write_file(
        HEADER
        + "ok@example.com,00000000191,CPF,10,0\n"  # 2: good
        + "not-an-email,00000000272,CPF,10,0\n"  # 3
        + "a@example.com,2/x?,CPF,10,0\n"  # 4: bad document
        + "b@example.com,3,passport,10,0\n"  # 5: bad type
        + "c@example.com,00000000434,CPF,ten,0\n"  # 6: not an amount
        + "d@example.com,00000000515,CPF,-10,0\n"  # 7: negative
        + "e@example.com,00000000604,CPF,10.0051,0\n"  # 8: fraction of a cent
        + "f@example.com,00000000787,CPF,10,5\n"  # 9: a bare 5 reads as 500 % or 5 %
        + ",00000000868,CPF,,0\n"  # 10: e-mail and limit missing
        + "taken@example.com,00000000949,CPF,10,0\n"  # 11: e-mail holds another account
        + "g@example.com,00000001082,CPF,1,234.56,0\n"  # 12: an unquoted comma shifts the cells
        + "ok2@example.com,00000001163,CPF,20,0.5\n"  # 13: good
    )
    job = run_file(path)
    assert counts(job) == (2, 0, 0, 10)
    assert row_errors(db, job.id) == [
        (3, "Email", "not-an-email", "invalid_email"),
        (4, "Document", "2/x?", "invalid_document"),
        (5, "Document Type", "passport", "invalid_document_type"),
        (6, "Credit limit", "ten", "invalid_amount"),
        (7, "Credit limit", "-10", "invalid_amount"),
        (8, "Credit limit", "10.0051", "invalid_amount"),
        (9, "Tolerance rate", "5", "invalid_rate"),
        (10, "Email", None, "required"),
        (10, "Credit limit", None, "required"),
        (11, "Email", "taken@example.com", "holder_exists"),
        (12, None, "0", "too_many_cells"),
        (12, "Tolerance rate", "234.56", "invalid_rate"),  # what the shift put there
    ]
    assert account(db, "00000000191_CPF").credit_limit_cents == 1000
    assert account(db, "00000001163_CPF").tolerance_bps == 5000
    no_drift(db)


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("Email,Document,Document Type,Credit limit,Tolerance (fraction or %)", ","),
        ("Email;Documento;Tipo de documento;Límite de crédito;Tolerancia (fracción o %)", ";"),
        ("Email;Documento;Tipo de documento;Limite de crédito;Tolerância (fração ou %)", ";"),
        ("Email;Documento;Tipo de documento;Límite de crédito;Tasa de tolerancia", ";"),
        ("Email;Documento;Tipo de documento;Limite de crédito;Taxa de tolerância", ";"),
        ("Email,Document,Document Type,Credit limit,Tolerance", ","),
    ],
)
def test_the_tolerance_column_reads_a_percentage_or_a_fraction_under_any_of_its_titles(
    db: Database, write_file: WriteFile, run_file: RunImport, header: str, delimiter: str
) -> None:
    comma = delimiter == ";"
    rows = [
        ("a@example.com", "00000000191", "12,5%" if comma else "12.5%"),
        ("b@example.com", "00000000272", "0,1" if comma else "0.1"),
        ("c@example.com", "00000000353", "10 %"),
        ("d@example.com", "00000000434", "0"),
        ("e@example.com", "00000000515", "5"),
    ]
    text = (
        header + "\n" + "".join(delimiter.join((e, d, "CPF", "100", t)) + "\n" for e, d, t in rows)
    )
    job = run_file(write_file(text))
    assert counts(job) == (4, 0, 0, 1)
    assert [account(db, f"{valid_cpf(n)}_CPF").tolerance_bps for n in (1, 2, 3, 4)] == [
        1250,
        1000,
        1000,
        0,
    ]
    [(row, column, value, code)] = row_errors(db, job.id)
    assert (row, column, value, code) == (6, header.split(delimiter)[4], "5", "invalid_rate")
    with db.transaction() as session:
        [error] = session.scalars(select(ImportRowError).where(ImportRowError.job_id == job.id))
    assert error.reason == "5 reads as 500 % (a fraction) or as 5 %: write 5% or 0.05"


def test_running_the_same_file_twice_gives_the_same_end_state(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    path = write_file(
        HEADER
        + "".join(f"u{i}@example.com,{valid_cpf(i)},CPF,{i}00,0.0{i % 10}\n" for i in range(1, 30))
    )
    first = run_file(path, chunk_size=7)
    with db.transaction() as session:
        after_first = ledger_state(session)
    second = run_file(path, chunk_size=5)
    assert counts(first) == (29, 0, 0, 0)
    assert counts(second) == (0, 0, 29, 0)
    with db.transaction() as session:
        assert ledger_state(session) == after_first
    no_drift(db)


def test_create_refuses_an_existing_account_with_other_data(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    run_file(write_file(HEADER + "a@example.com,00000000191,CPF,100,0\n"))
    job = run_file(
        write_file(
            HEADER
            + "a@example.com,00000000191,CPF,200,0\nother@example.com,00000000191,CPF,100,0\n"
        )
    )
    assert counts(job) == (0, 0, 0, 2)
    assert row_errors(db, job.id) == [
        (2, "Credit limit", "200", "account_exists"),
        (3, "Email", "other@example.com", "account_exists"),
    ]
    assert account(db, "00000000191_CPF").credit_limit_cents == 10_000


def test_repeated_rows_in_one_file_behave_as_if_run_one_by_one(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    path = write_file(
        HEADER
        + "a@example.com,00000000191,CPF,100,0\n"
        + "a@example.com,00000000191,CPF,100,0\n"  # the same again: unchanged
        + "b@example.com,00000000191,CPF,300,0\n"  # the same document, other data: refused
        + "a@example.com,00000000272,CPF,100,0\n"  # the e-mail is taken by row 2
    )
    job = run_file(path)
    assert counts(job) == (1, 0, 1, 2)
    assert [(r, c) for r, _col, _v, c in row_errors(db, job.id)] == [
        (4, "account_exists"),
        (5, "holder_exists"),
    ]


def test_a_closed_account_does_not_block_a_new_one(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    with db.transaction() as session:
        old = open_account(
            session,
            email="shop@example.com",
            credit_limit_cents=1,
            document="00000009000100",
            document_type="CNPJ",
            now=NOW,
        )
        close_account(session, old.id, now=NOW)
    job = run_file(write_file(HEADER + "shop@example.com,00000009000100,CNPJ,50,0\n"))
    assert counts(job) == (1, 0, 0, 0)
    with db.transaction() as session:
        ids = session.scalars(select(Account.id).where(Account.document == "00000009000100")).all()
    assert sorted(ids)[0] == "00000009000100_CNPJ" and sorted(ids)[1].startswith(
        "00000009000100_CNPJ_"
    )


def test_dry_run_checks_against_the_services_and_writes_nothing(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    with db.transaction() as session:
        open_account(session, email="taken@example.com", credit_limit_cents=1, now=NOW)
    path = write_file(
        HEADER
        + "new@example.com,00000000191,CPF,10,0\n"
        + "taken@example.com,00000000272,CPF,10,0\n"
        + "bad,00000000353,CPF,1,0\n"
    )
    job = run_file(path, dry_run=True)
    assert (job.dry_run, job.status, counts(job)) == (True, "completed", (1, 0, 0, 2))
    assert [c for _r, _col, _v, c in row_errors(db, job.id)] == ["holder_exists", "invalid_email"]
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 1
    real = run_file(path)
    assert counts(real) == (1, 0, 0, 2)


def test_update_by_document_changes_what_differs_and_keeps_empty_cells(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    run_file(
        write_file(
            HEADER
            + "a@example.com,00000000191,CPF,100,0.05\n"
            + "b@example.com,00000000272,CPF,100,0\n"
        )
    )
    path = write_file(
        "Document,Credit limit,Tolerance rate,Email\n"
        "00000000191,150,,\n"  # limit only
        "000.000.002-72,100,0,B2@Example.com\n"  # e-mail only, the document masked
        "3,1,,\n"  # nobody has it
    )
    job = run_file(path, mode="update")
    assert counts(job) == (0, 2, 0, 1)
    assert row_errors(db, job.id) == [(4, "Document", "3", "account_not_found")]
    a = account(db, "00000000191_CPF")
    assert (a.credit_limit_cents, a.tolerance_bps) == (15_000, 500)
    assert account(db, "00000000272_CPF").email == "b2@example.com"
    again = run_file(path, mode="update")
    assert counts(again) == (0, 0, 2, 1)
    no_drift(db)


def test_update_by_email_may_give_a_document_to_an_account_without_one(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    with db.transaction() as session:
        bare = open_account(session, email="bare@example.com", credit_limit_cents=100, now=NOW)
        open_account(
            session,
            email="doc@example.com",
            credit_limit_cents=100,
            document="00000000787",
            document_type="CPF",
            now=NOW,
        )
    path = write_file(
        HEADER
        + "bare@example.com,00000055000100,CNPJ,,\n"  # gets a document
        + "doc@example.com,00000000868,CPF,,\n"  # already has another one
        + "nobody@example.com,,,5,\n"
    )
    job = run_file(path, mode="update")
    assert counts(job) == (0, 1, 0, 2)
    assert [(r, c) for r, _col, _v, c in row_errors(db, job.id)] == [
        (3, "document_mismatch"),
        (4, "account_not_found"),
    ]
    changed = account(db, bare.id)
    assert (changed.document, changed.document_type) == ("00000055000100", "CNPJ")


def test_update_by_id_from_an_export_may_change_a_document(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    with db.transaction() as session:
        a = open_account(
            session,
            email="a@example.com",
            credit_limit_cents=100,
            document="00000000191",
            document_type="CPF",
            now=NOW,
        )
        b = open_account(
            session,
            email="b@example.com",
            credit_limit_cents=100,
            document="00000000272",
            document_type="CPF",
            now=NOW,
        )
        closed = open_account(session, email="c@example.com", credit_limit_cents=100, now=NOW)
        close_account(session, closed.id, now=NOW)
    path = write_file(
        "Id,Email,Document,Document Type,Credit limit\n"
        f"{a.id},a@example.com,00000010073,CPF,2\n"
        f"{b.id},b@example.com,00000010073,CPF,2\n"  # the document row 2 just took
        f"{closed.id},c@example.com,,,5\n"
        "nope,x@example.com,,,5\n"
    )
    job = run_file(path, mode="update")
    assert counts(job) == (0, 1, 0, 3)
    assert [(r, c) for r, _col, _v, c in row_errors(db, job.id)] == [
        (3, "account_exists"),
        (4, "account_closed"),
        (5, "account_not_found"),
    ]
    assert (account(db, a.id).document, account(db, a.id).credit_limit_cents) == (
        "00000010073",
        200,
    )
    assert account(db, b.id).credit_limit_cents == 100  # a refused row changes nothing


def test_update_refuses_a_taken_email_and_needs_a_key(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    with db.transaction() as session:
        a = open_account(
            session,
            email="a@example.com",
            credit_limit_cents=1,
            document="00000000191",
            document_type="CPF",
            now=NOW,
        )
        add_holder(session, a.id, "dependent@example.com", now=NOW)
        open_account(
            session,
            email="b@example.com",
            credit_limit_cents=1,
            document="00000000272",
            document_type="CPF",
            now=NOW,
        )
    path = write_file(HEADER + "dependent@example.com,00000000272,CPF,5,\n,,,5,\n")
    job = run_file(path, mode="update")
    assert [(r, col, c) for r, col, _v, c in row_errors(db, job.id)] == [
        (2, "Email", "holder_exists"),
        (3, None, "required"),
    ]


def test_update_with_an_ambiguous_document_asks_for_its_type(
    db: Database, write_file: WriteFile, run_file: RunImport
) -> None:
    with db.transaction() as session:
        open_account(
            session,
            email="a@example.com",
            credit_limit_cents=1,
            document="00000000515",
            document_type="CPF",
            now=NOW,
        )
        open_account(
            session,
            email="b@example.com",
            credit_limit_cents=1,
            document="00000000515",
            document_type="Other",
            now=NOW,
        )
    job = run_file(
        write_file("Document,Document Type,Credit limit\n00000000515,,9\n00000000515,Other,9\n"),
        mode="update",
    )
    assert counts(job) == (0, 1, 0, 1)
    assert row_errors(db, job.id) == [(2, "Document Type", None, "invalid_request")]
    assert account(db, "00000000515_Other").credit_limit_cents == 900


@pytest.mark.parametrize("chunk_size", [1, 2, 1000])
def test_chunk_size_does_not_change_the_outcome(
    db: Database, write_file: WriteFile, run_file: RunImport, chunk_size: int
) -> None:
    path = write_file(
        HEADER
        + "a@example.com,00000000191,CPF,10,0\n"
        + "bad,00000000272,CPF,10,0\n"
        + "a@example.com,00000000191,CPF,10,0\n"
        + "b@example.com,00000000353,CPF,10,0\n"
    )
    job = run_file(path, chunk_size=chunk_size)
    assert counts(job) == (2, 0, 1, 1)
    assert job.chunks_done == -(-4 // chunk_size)
