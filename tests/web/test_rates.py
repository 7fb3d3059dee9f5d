"""Rates read one way at every edge: the same text gives the same stored value through the
admin's forms, a CSV import and the API, and the same text is refused for the same reason,
which the pages say in their language."""

from __future__ import annotations

import html
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from connector.bulk.history import iter_errors
from connector.bulk.runner import run_queued_imports
from connector.credit.settings import StoreSettings, load_store_settings
from connector.db import Database
from connector.money import bps_to_decimal
from connector.web.admin.settings import form_values
from tests.factories import Seeded, load_account, valid_cpf
from tests.web.conftest import post_form, text_of
from tests.web.test_bulk_routes import job_id_of, upload

API = "/api/creditcontrol"
# A Spanish spreadsheet's accounts file: semicolons, decimal commas, the column's new title.
CSV_HEADER = "Email;Documento;Tipo de documento;Límite de crédito;Tolerancia (fracción o %)\r\n"

ACCEPTED = [
    ("10%", 1000),
    ("10 %", 1000),
    ("12,5%", 1250),
    ("12.5%", 1250),
    ("0.5%", 50),
    ("0,01%", 1),
    ("100%", 10_000),
    ("0.1", 1000),
    ("0,1", 1000),
    ("0.125", 1250),
    ("0", 0),
]
REFUSED = [
    ("5", "5 reads as 500 % (a fraction) or as 5 %: write 5% or 0.05"),
    ("10", "10 reads as 1000 % (a fraction) or as 10 %: write 10% or 0.1"),
    ("1", "1 reads as 100 % (a fraction) or as 1 %: write 1% or 0.01"),
    ("12,5", "12,5 reads as 1250 % (a fraction) or as 12,5 %: write 12,5% or 0,125"),
    ("150%", "150% is out of range: from 0% to 100%"),
    ("0.00001", "0.00001 is finer than a hundredth of a percent (0.01%)"),
    ("ten", "ten is not a rate: write a fraction such as 0.1 or a percentage such as 10%"),
]


def open_by_form(client: FlaskClient, number: int, tolerance: str) -> TestResponse:
    return post_form(
        client,
        "/admin/accounts/new",
        {
            "email": f"form{number}@example.com",
            "document": valid_cpf(number),
            "documentType": "CPF",
            "creditLimit": "100",
            "tolerance": tolerance,
        },
    )


def import_csv(client: FlaskClient, db: Database, rows: list[tuple[int, str]]) -> str:
    """Upload a Spanish accounts file (one row per account: its number and tolerance) and
    run it as the scheduler does; the import's id."""
    lines = [f"csv{n}@example.com;{valid_cpf(n)};CPF;100;{tolerance}\r\n" for n, tolerance in rows]
    job_id = job_id_of(upload(client, (CSV_HEADER + "".join(lines)).encode()))
    assert run_queued_imports(db) == 1
    return job_id


def row_reasons(db: Database, job_id: str) -> list[str]:
    with db.transaction() as session:
        return [e.reason for e in iter_errors(session, job_id)]


def open_by_api(
    client: FlaskClient, headers: dict[str, str], number: int, tolerance: Any
) -> TestResponse:
    body = {
        "email": f"api{number}@example.com",
        "document": valid_cpf(number),
        "documentType": "CPF",
        "creditLimit": 100,
        "tolerance": tolerance,
    }
    return client.post(f"{API}/accounts", json=body, headers=headers)


def page_text(response: TestResponse) -> str:
    return html.unescape(text_of(response))


@pytest.mark.parametrize(("text", "bps"), ACCEPTED)
def test_a_tolerance_reads_the_same_in_the_admin_the_csv_and_the_api(
    admin_client: FlaskClient, admin_headers: dict[str, str], db: Database, text: str, bps: int
) -> None:
    assert open_by_form(admin_client, 1, text).status_code == 302
    job_id = import_csv(admin_client, db, [(2, text)])
    assert row_reasons(db, job_id) == []
    answered = open_by_api(admin_client, admin_headers, 3, text)
    assert answered.status_code == 200, answered.get_json()
    stored = [load_account(db, f"{valid_cpf(n)}_CPF").tolerance_bps for n in (1, 2, 3)]
    if "%" not in text and "," not in text:  # a bare fraction may also be a JSON number
        assert open_by_api(admin_client, admin_headers, 4, float(text)).status_code == 200
        stored.append(load_account(db, f"{valid_cpf(4)}_CPF").tolerance_bps)
    assert set(stored) == {bps}
    # The API answers the fraction, as the public API writes rates.
    assert answered.get_json()["tolerance"] == bps_to_decimal(bps)


@pytest.mark.parametrize(("text", "reason"), REFUSED)
def test_a_tolerance_is_refused_for_the_same_reason_everywhere(
    admin_client: FlaskClient,
    admin_headers: dict[str, str],
    db: Database,
    seed: Callable[..., Seeded],
    text: str,
    reason: str,
) -> None:
    opened = open_by_form(admin_client, 1, text)
    assert opened.status_code == 400 and reason in page_text(opened)
    seeded = seed()
    changed = post_form(
        admin_client,
        f"/admin/accounts/{seeded.account_id}/credit",
        {"creditLimit": "100", "tolerance": text},
    )
    assert changed.status_code == 400 and reason in page_text(changed)
    job_id = import_csv(admin_client, db, [(2, text)])
    assert row_reasons(db, job_id) == [reason]
    answered = open_by_api(admin_client, admin_headers, 3, text)
    assert answered.status_code == 400
    assert answered.get_json()["error"]["fields"] == {"tolerance": reason}
    tolerance = admin_client.put(
        f"{API}/accounts/{seeded.account_id}/tolerance", json={"value": text}, headers=admin_headers
    )
    assert tolerance.get_json()["error"]["fields"] == {"value": reason}


def test_json_numbers_of_1_or_more_are_refused_as_ambiguous(
    admin_client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    for number, reason in (
        (5, "5 reads as 500 % (a fraction) or as 5 %: write 5% or 0.05"),
        (1, "1 reads as 100 % (a fraction) or as 1 %: write 1% or 0.01"),
    ):
        answered = open_by_api(admin_client, admin_headers, 1, number)
        assert answered.get_json()["error"]["fields"] == {"tolerance": reason}


# (field of the admin form, name in the API, text, the stored value)
SETTINGS = [
    ("max_preauthorization_growth_bps", "maxPreAuthorizationGrowthRate", "250%", 25_000),
    ("max_preauthorization_growth_bps", "maxPreAuthorizationGrowthRate", "12,5%", 1250),
    ("max_preauthorization_growth_bps", "maxPreAuthorizationGrowthRate", "0.1", 1000),
    ("daily_interest_rate", "dailyInterestRate", "0.033%", Decimal("0.00033")),
    ("daily_interest_rate", "dailyInterestRate", "0,00033", Decimal("0.00033")),
    ("tax_rate", "taxRate", "2%", Decimal("0.02")),
    ("tax_rate", "taxRate", "0.02", Decimal("0.02")),
    ("tax_rate", "taxRate", "100%", Decimal(1)),
]


@pytest.mark.parametrize(("field", "name", "text", "stored"), SETTINGS)
def test_a_store_rate_reads_the_same_in_the_admin_and_the_api(
    admin_client: FlaskClient,
    admin_headers: dict[str, str],
    db: Database,
    field: str,
    name: str,
    text: str,
    stored: int | Decimal,
) -> None:
    form = {k: v for k, v in form_values(StoreSettings()).items() if v}
    assert post_form(admin_client, "/admin/settings", {**form, field: text}).status_code == 302
    with db.transaction() as session:
        by_form = getattr(load_store_settings(session), field)
    assert by_form == stored
    reset = admin_client.put(f"{API}/storeconfig", json={name: "0"}, headers=admin_headers)
    assert reset.status_code == 200
    answered = admin_client.put(f"{API}/storeconfig", json={name: text}, headers=admin_headers)
    assert answered.status_code == 200, answered.get_json()
    with db.transaction() as session:
        assert getattr(load_store_settings(session), field) == stored


def test_an_untouched_settings_form_saves_its_rates_unchanged(
    admin_client: FlaskClient, admin_headers: dict[str, str], db: Database
) -> None:
    rates = {
        "maxPreAuthorizationGrowthRate": "12.5%",
        "dailyInterestRate": "0.00033",
        "taxRate": "0.02",
    }
    saved = admin_client.put(f"{API}/storeconfig", json=rates, headers=admin_headers)
    assert saved.status_code == 200
    page = admin_client.get("/admin/settings").text
    # Written back with their sign: what staff see is what is saved.
    for value in ("12.5%", "0.033%", "2%"):
        assert f'value="{value}"' in page
    with db.transaction() as session:
        before = load_store_settings(session)
    assert post_form(admin_client, "/admin/settings", form_values(before)).status_code == 302
    with db.transaction() as session:
        after = load_store_settings(session)
    assert (
        after.max_preauthorization_growth_bps,
        after.daily_interest_rate,
        after.tax_rate,
    ) == (1250, Decimal("0.00033"), Decimal("0.02"))


def test_an_account_form_shows_the_tolerance_with_its_sign_and_saves_it_unchanged(
    admin_client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed()
    path = f"/admin/accounts/{seeded.account_id}"
    saved = post_form(admin_client, path + "/credit", {"creditLimit": "100", "tolerance": "0,01%"})
    assert saved.status_code == 302
    assert load_account(db, seeded.account_id).tolerance_bps == 1
    page = admin_client.get(path).text
    assert 'name="tolerance" value="0.01%"' in page  # what the form sends back untouched
    again = post_form(admin_client, path + "/credit", {"creditLimit": "100", "tolerance": "0.01%"})
    assert again.status_code == 302
    assert load_account(db, seeded.account_id).tolerance_bps == 1


@pytest.mark.parametrize(
    ("language", "ambiguous", "ambiguous_in_file", "out_of_range"),
    [
        (
            "es",
            "5 se lee como 500 % (una fracción) o como 5 %: escribe 5% o 0,05",
            "5 se lee como 500 % (una fracción) o como 5 %: escribe 5% o 0.05",
            "150% está fuera del rango: de 0% a 100%",
        ),
        (
            "pt",
            "5 pode ser lido como 500 % (uma fração) ou como 5 %: escreva 5% ou 0,05",
            "5 pode ser lido como 500 % (uma fração) ou como 5 %: escreva 5% ou 0.05",
            "150% está fora do intervalo: de 0% a 100%",
        ),
    ],
)
def test_the_refusal_is_in_the_pages_language(
    admin_client: FlaskClient,
    db: Database,
    seed: Callable[..., Seeded],
    language: str,
    ambiguous: str,
    ambiguous_in_file: str,
    out_of_range: str,
) -> None:
    admin_client.get(f"/language/{language}")
    opened = open_by_form(admin_client, 1, "5")
    assert opened.status_code == 400 and ambiguous in page_text(opened)
    seeded = seed()
    changed = post_form(
        admin_client,
        f"/admin/accounts/{seeded.account_id}/credit",
        {"creditLimit": "100", "tolerance": "150%"},
    )
    assert changed.status_code == 400 and out_of_range in page_text(changed)
    form = {k: v for k, v in form_values(StoreSettings()).items() if v}
    saved = post_form(
        admin_client, "/admin/settings", {**form, "max_preauthorization_growth_bps": "5"}
    )
    assert saved.status_code == 400 and ambiguous in page_text(saved)
    # A CSV row's reason is stored in English (the scheduler runs the import with no page
    # language, and the error report writes it so); the import's page says it in its own.
    job_id = import_csv(admin_client, db, [(2, "5"), (3, "150%")])
    english = row_reasons(db, job_id)
    assert english == [
        "5 reads as 500 % (a fraction) or as 5 %: write 5% or 0.05",
        "150% is out of range: from 0% to 100%",
    ]
    shown = page_text(admin_client.get(f"/admin/bulk/imports/{job_id}"))
    assert ambiguous_in_file in shown and out_of_range in shown
    assert not any(reason in shown for reason in english)
