"""What every page shares (issue 16, point 7): money as CLDR writes it per locale, plural
forms and words per noun from the catalogs, figures never clipped, empty charts, error
pages at any URL, Mark as paid confirmed, the statement's tolerance, the store's name and
logo."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from io import BytesIO

import pytest
from babel.dates import format_date
from flask import Flask
from flask.testing import FlaskClient

from connector import catalogs
from connector.audit import AuditEntry
from connector.clock import utcnow
from connector.credit.settings import load_store_settings
from connector.db import Database
from connector.errors import ValidationError
from connector.web import i18n
from connector.web.admin.audit import field_changes
from tests.factories import Seeded, load_account, load_invoice
from tests.web.conftest import post_form, text_of
from tests.web.test_mycredits_routes import mint, path_of

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("accept", "currency", "written"),
    [
        # Brazil: CLDR's pattern, symbol then a no-break space.
        ("pt-BR", "BRL", f"R${NBSP}8.765,44"),
        # Spanish knows no symbol for the real (CLDR writes BRL): the real's own R$, set
        # apart as Brazil sets it, in Argentina's pattern and Spain's.
        ("es-AR", "BRL", f"R${NBSP}8.765,44"),
        ("es-ES", "BRL", f"8.765,44{NBSP}R$"),
        ("es-MX", "BRL", f"R${NBSP}8,765.44"),
        ("en-US", "BRL", "R$8,765.44"),
        # A symbol the language has is kept; CLDR's currency spacing sets a letter apart.
        ("es-AR", "USD", "US$8.765,44"),
        ("es-AR", "EUR", f"EUR{NBSP}8.765,44"),
        ("es-ES", "EUR", f"8.765,44{NBSP}€"),
        ("en-US", "USD", "$8,765.44"),
    ],
)
def test_money_is_written_as_the_locale_writes_it(accept: str, currency: str, written: str) -> None:
    with Flask(__name__).test_request_context(headers={"Accept-Language": accept}):
        assert i18n.money(876_544, currency) == written


def test_a_negative_sum_and_the_compact_form_keep_the_symbol() -> None:
    assert catalogs.money_text(-876_544, "BRL", "es_AR") == f"-R${NBSP}8.765,44"
    assert catalogs.compact_money_text(250_194_410_000, "BRL", "pt_BR") == f"R${NBSP}2,5{NBSP}bi"
    assert catalogs.compact_money_text(250_194_410_000, "BRL", "en_US") == "R$2.5B"


_CATALOG_PO = b"""\
msgid ""
msgstr ""
"Language: pt\\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\\n"
"Content-Type: text/plain; charset=utf-8\\n"

msgid "{n} invoice"
msgid_plural "{n} invoices"
msgstr[0] "{n} t\xc3\xadtulo"
msgstr[1] "{n} t\xc3\xadtulos"

msgctxt "account status"
msgid "Open"
msgstr "Aberta"

msgctxt "invoice status"
msgid "Open"
msgstr "Aberto"
"""


def test_a_status_word_agrees_with_its_noun_and_a_count_with_its_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    portuguese = catalogs.compile_catalog(BytesIO(_CATALOG_PO), "pt")
    monkeypatch.setattr(catalogs, "translations", lambda language: portuguese)
    with Flask(__name__).test_request_context(headers={"Accept-Language": "pt-BR"}):
        assert i18n.pgettext("account status", "Open") == "Aberta"
        assert i18n.pgettext("invoice status", "Open") == "Aberto"
        assert i18n.ngettext("{n} invoice", "{n} invoices", 1) == "1 título"
        assert i18n.ngettext("{n} invoice", "{n} invoices", 2) == "2 títulos"
        assert catalogs.ntranslate("pt", "{n} invoice", "{n} invoices", 1) == "1 título"


def test_the_dashboard_counts_one_invoice_in_the_singular(
    admin_client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    seed()
    text = text_of(admin_client.get("/admin/"))
    assert "1 invoice " in text and "1 invoices" not in text


def test_a_huge_figure_is_shown_short_with_the_whole_in_its_title(
    admin_client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    seed(limit_cents=250_194_410_000)
    page = admin_client.get("/admin/", headers={"Accept-Language": "pt-BR"}).text
    assert f'<abbr class="compact" title="R${NBSP}2.501.944.100,00">R${NBSP}2,5{NBSP}bi</abbr>' in (
        page
    )


def test_an_empty_chart_says_so_instead_of_drawing_axes(admin_client: FlaskClient) -> None:
    page = admin_client.get("/admin/").text
    assert "No open invoices: nothing to chart." in page
    assert "No credit in use nor granted in the last 90 days: nothing to chart." in page
    assert "chart-axis" not in page and "R$0.01" not in page


def test_a_chart_with_figures_is_drawn(
    admin_client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    seed()
    page = admin_client.get("/admin/").text
    assert "No open invoices: nothing to chart." not in page
    assert '<svg class="chart"' in page and "chart-label" in page


@pytest.mark.parametrize(
    ("path", "accept", "words"),
    [
        ("/admin/no-such-page", "es-AR", "No encontrado."),
        ("/no-such-page", "pt-BR", "Não encontrado."),
        ("/mycredits/no-such-page", "es", "No encontrado."),
    ],
)
def test_an_unknown_url_is_a_page_in_the_sites_layout_and_language(
    client: FlaskClient, path: str, accept: str, words: str
) -> None:
    response = client.get(path, headers={"Accept-Language": accept})
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert words in response.text and 'class="topbar"' in response.text
    assert f'<html lang="{accept[:2]}">' in response.text
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_the_api_keeps_its_json_errors(client: FlaskClient) -> None:
    response = client.get("/api/creditcontrol/no-such-thing")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_a_failure_is_a_500_page_that_tells_nothing_of_its_cause(app: Flask) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/admin-boom")
    def _boom() -> str:
        raise RuntimeError("secret detail: password=hunter2")

    response = app.test_client().get("/admin-boom", headers={"Accept-Language": "pt-BR"})
    assert response.status_code == 500 and response.mimetype == "text/html"
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert 'class="topbar"' in response.text


def test_mark_as_paid_shows_what_it_will_record_and_records_only_when_confirmed(
    admin_client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed(limit_cents=100_000, purchase_cents=30_000)
    invoice_id = seeded.invoice_ids[0]
    with db.transaction() as session:
        today = load_store_settings(session).today(utcnow())
    typed = {
        "paymentDate": today.isoformat(),
        "paymentMethod": "pix",
        "paymentReference": "E2E-778",
        "amountReceived": "300.00",
    }
    asked = post_form(admin_client, f"/admin/invoices/{invoice_id}/pay", typed)
    assert asked.status_code == 200
    shown = text_of(asked)
    assert "Record this payment?" in shown
    assert f"Paid on {format_date(today, 'medium', locale='en_US')}" in shown
    assert "Method Pix" in shown
    assert "Reference E2E-778" in shown and "Amount received R$300.00" in shown
    assert 'name="confirmed" value="1"' in asked.text
    assert load_invoice(db, invoice_id).status == "Opened"  # nothing recorded yet
    done = post_form(admin_client, f"/admin/invoices/{invoice_id}/pay", {**typed, "confirmed": "1"})
    assert done.status_code == 302
    invoice = load_invoice(db, invoice_id)
    assert (invoice.status, invoice.payment_reference) == ("Paid", "E2E-778")


def test_the_confirmation_shows_the_amount_due_when_none_is_typed(
    admin_client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    seeded = seed(purchase_cents=12_345)
    asked = post_form(admin_client, f"/admin/invoices/{seeded.invoice_ids[0]}/pay")
    assert "Amount received R$123.45" in text_of(asked)
    bad = post_form(
        admin_client, f"/admin/invoices/{seeded.invoice_ids[0]}/pay", {"paymentDate": "x"}
    )
    assert bad.status_code == 400 and "Record this payment?" not in bad.text


def test_the_statement_shows_tolerance_only_when_the_store_uses_it(
    admin_client: FlaskClient, seed: Callable[..., Seeded], store: Callable[..., None]
) -> None:
    seeded = seed()
    post_form(
        admin_client,
        f"/admin/accounts/{seeded.account_id}/credit",
        {"creditLimit": "2000", "tolerance": "10%"},
    )
    page = f"/admin/accounts/{seeded.account_id}"
    off = text_of(admin_client.get(page))
    assert "Limit R$2,000.00" in off and "tolerance 10%" not in off
    store(tolerance_enabled=True)
    assert "Limit R$2,000.00, tolerance 10%" in text_of(admin_client.get(page))


@pytest.mark.parametrize(
    "url",
    [
        "http://store.example/logo.png",
        "javascript:alert(1)",
        "https://",
        "https://user:pw@store.example/logo.png",
        'https://store.example/"onerror="x.png',
        "https://store.example/" + "a" * 500,
    ],
)
def test_a_logo_must_be_an_https_address(db: Database, url: str) -> None:
    from connector.credit.settings import update_store_settings

    with pytest.raises(ValidationError) as refused, db.transaction() as session:
        update_store_settings(session, {"store_logo_url": url})
    assert "store_logo_url" in refused.value.to_dict()["fields"]


def test_my_credits_shows_the_stores_name_and_logo(
    app: Flask,
    client: FlaskClient,
    db: Database,
    seed: Callable[..., Seeded],
    store: Callable[..., None],
) -> None:
    store(
        my_credits_enabled=True,
        store_name="Ferragens Silva",
        store_logo_url="https://cdn.silva.example/logo.png",
    )
    seeded = seed()
    client.get(path_of(mint(app, db, seeded.account_id).url))
    page = client.get("/mycredits/")
    assert '<img class="brand-logo" src="https://cdn.silva.example/logo.png"' in page.text
    assert 'alt="Ferragens Silva"' in page.text
    # The page may load the logo from its origin, and from no other.
    policy = page.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://cdn.silva.example;" in policy
    with db.transaction() as session:
        assert load_store_settings(session).store_name == "Ferragens Silva"


def test_my_credits_overdue_figure_is_the_amount_due(
    app: Flask,
    client: FlaskClient,
    db: Database,
    seed: Callable[..., Seeded],
    store: Callable[..., None],
) -> None:
    store(my_credits_enabled=True, tax_rate=Decimal("0.02"))
    seeded = seed(purchase_cents=100_000, settled_days_ago=45)  # due 30 days after
    assert load_account(db, seeded.account_id).status == "Open"
    client.get(path_of(mint(app, db, seeded.account_id).url))
    figure = re.search(
        r'data-figure="overdue"><dt>[^<]*</dt><dd>([^<]*)', client.get("/mycredits/").text
    )
    assert figure is not None and figure.group(1) == "R$1,020.00"  # value + 2 % fee


def test_the_accounts_overdue_figure_is_the_amount_due(
    admin_client: FlaskClient, seed: Callable[..., Seeded], store: Callable[..., None]
) -> None:
    store(tax_rate=Decimal("0.02"))
    seeded = seed(purchase_cents=100_000, settled_days_ago=45)
    page = admin_client.get(f"/admin/accounts/{seeded.account_id}").text
    figure = re.search(r'data-figure="overdue"><dt>[^<]*</dt><dd>([^<]*)', page)
    assert figure is not None and figure.group(1) == "R$1,020.00"  # value + 2 % fee


def test_the_audit_trail_words_a_status_as_its_subjects_badge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    portuguese = catalogs.compile_catalog(BytesIO(_CATALOG_PO), "pt")
    monkeypatch.setattr(catalogs, "translations", lambda language: portuguese)
    account = AuditEntry(subject_kind="account", before={"status": "Open"}, after={})
    invoice = AuditEntry(subject_kind="invoice", before={"status": "Opened"}, after={})
    with Flask(__name__).test_request_context(headers={"Accept-Language": "pt-BR"}):
        assert [c.before for c in field_changes(account)] == ["Aberta"]
        assert [c.before for c in field_changes(invoice)] == ["Aberto"]
