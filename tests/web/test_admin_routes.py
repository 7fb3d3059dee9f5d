"""Admin forms call the credit services: changes land, errors sit next to their field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from flask.testing import FlaskClient
from sqlalchemy import select

from connector.clock import utcnow
from connector.credit.check import find_drift
from connector.credit.models import Holder, StatementEntry
from connector.credit.settings import Reminder, StoreSettings, load_store_settings
from connector.db import Database
from tests.factories import Seeded, load_account, load_invoice
from tests.web.conftest import post_form, text_of


def test_open_an_account_from_the_form(admin_client: FlaskClient, db: Database) -> None:
    response = post_form(
        admin_client,
        "/admin/accounts/new",
        {
            "email": " Owner@Shop.example ",
            "document": "12.345.678/0001-95",
            "documentType": "CNPJ",
            "creditLimit": "1.234,56",
            "tolerance": "12,5%",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/accounts/12345678000195_CNPJ"
    account = load_account(db, "12345678000195_CNPJ")
    assert (account.email, account.credit_limit_cents, account.tolerance_bps) == (
        "owner@shop.example",
        123_456,
        1250,
    )
    with db.transaction() as session:
        [entry] = session.scalars(select(StatementEntry)).all()
        assert entry.done_by == "staff@store.example"
    page = text_of(admin_client.get(response.headers["Location"]))
    assert "Account 12345678000195_CNPJ opened." in page and "R$1,234.56" in page


def test_a_bad_form_shows_each_error_by_its_field_and_saves_nothing(
    admin_client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    response = post_form(
        admin_client,
        "/admin/accounts/new",
        {"email": "not-an-email", "creditLimit": "ten", "tolerance": "150"},
    )
    assert response.status_code == 400
    assert 'id="f-creditLimit" name="creditLimit" value="ten"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert "Enter an amount such as 1500.00." in response.text
    assert "150 is out of range: from 0% to 100%" in response.text
    seed(email="taken@shop.example")
    taken = post_form(
        admin_client, "/admin/accounts/new", {"email": "taken@shop.example", "creditLimit": "1"}
    )
    assert taken.status_code == 409
    assert 'id="f-email-note">already a holder of an open account' in taken.text


def test_change_limit_and_tolerance(
    admin_client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed(limit_cents=100_000, purchase_cents=30_000)
    path = f"/admin/accounts/{seeded.account_id}/credit"
    response = post_form(admin_client, path, {"creditLimit": "2000", "tolerance": "5%"})
    assert response.status_code == 302
    account = load_account(db, seeded.account_id)
    assert (account.credit_limit_cents, account.tolerance_bps) == (200_000, 500)
    bad = post_form(admin_client, path, {"creditLimit": "-5", "tolerance": "0.05"})
    assert bad.status_code == 400 and "Enter an amount such as 1500.00." in bad.text
    assert load_account(db, seeded.account_id).credit_limit_cents == 200_000
    page = text_of(admin_client.get(f"/admin/accounts/{seeded.account_id}"))
    assert "Available credit R$1,700.00" in page
    with db.transaction() as session:
        assert find_drift(session) == []


def test_dependents_are_added_and_removed(
    admin_client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed()
    other = seed(email="someone@else.example")
    path = f"/admin/accounts/{seeded.account_id}/holders"
    assert post_form(admin_client, path, {"email": "Dep@Shop.example"}).status_code == 302
    taken = post_form(admin_client, path, {"email": "someone@else.example"})
    assert taken.status_code == 409
    assert 'id="f-holder-email-note">already a holder of an open account' in taken.text
    with db.transaction() as session:
        holder = session.scalars(select(Holder).where(Holder.email == "dep@shop.example")).one()
        owner = session.scalars(
            select(Holder).where(Holder.account_id == seeded.account_id, Holder.level == 1)
        ).one()
    assert holder.account_id == seeded.account_id
    removed = post_form(admin_client, f"{path}/{holder.id}/remove")
    assert removed.status_code == 302
    assert (
        "<td>dep@shop.example</td>"
        not in admin_client.get(f"/admin/accounts/{seeded.account_id}").text
    )
    refused = post_form(admin_client, f"{path}/{owner.id}/remove")
    assert refused.status_code == 409 and "The account owner cannot be removed." in refused.text
    wrong_account = post_form(
        admin_client, f"/admin/accounts/{other.account_id}/holders/{owner.id}/remove"
    )
    assert wrong_account.status_code == 404


def test_closing_needs_confirmation_and_force_with_open_invoices(
    admin_client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed()
    path = f"/admin/accounts/{seeded.account_id}/close"
    assert post_form(admin_client, path).status_code == 400
    refused = post_form(admin_client, path, {"confirm": "1"})
    assert refused.status_code == 409 and "close anyway" in refused.text
    assert load_account(db, seeded.account_id).status == "Open"
    assert post_form(admin_client, path, {"confirm": "1", "force": "1"}).status_code == 302
    assert load_account(db, seeded.account_id).status == "Closed"
    assert load_invoice(db, seeded.invoice_ids[0]).status == "Opened"  # still owed


def test_mark_paid_restores_the_credit_and_cancel_is_refused_after(
    admin_client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed(limit_cents=100_000, purchase_cents=30_000)
    invoice_id = seeded.invoice_ids[0]
    pay = f"/admin/invoices/{invoice_id}/pay"
    assert post_form(admin_client, pay, {"confirmed": "1"}).status_code == 302
    assert load_invoice(db, invoice_id).status == "Paid"
    assert load_account(db, seeded.account_id).balance_cents == 0
    again = post_form(admin_client, pay, {"confirmed": "1"})
    assert again.status_code == 302  # paying twice is a no-op
    cancel = post_form(admin_client, f"/admin/invoices/{invoice_id}/cancel", {"confirm": "1"})
    assert cancel.status_code == 409
    assert "The invoice is paid and cannot be cancelled." in cancel.text
    with db.transaction() as session:
        assert find_drift(session) == []


def test_cancel_payment_link_observation_and_postponement(
    admin_client: FlaskClient, db: Database, seed: Callable[..., Seeded], store: Callable[..., None]
) -> None:
    seeded = seed(purchase_cents=20_000, installments=2)
    first, second = seeded.invoice_ids
    details = f"/admin/invoices/{first}/details"
    bad = post_form(admin_client, details, {"paymentLink": "ftp://x", "observation": "hi"})
    assert bad.status_code == 400 and 'id="f-paymentLink-note">an http(s) URL' in bad.text
    ok = post_form(
        admin_client, details, {"paymentLink": "https://pay.example/1", "observation": "Called"}
    )
    assert ok.status_code == 302
    invoice = load_invoice(db, first)
    assert (invoice.payment_link, invoice.observation) == ("https://pay.example/1", "Called")

    off = post_form(admin_client, f"/admin/invoices/{first}/postpone", {"dueDays": "10"})
    assert off.status_code == 409 and "postponement is not enabled" in off.text
    store(postponement_enabled=True, max_postponement_days=15)
    before = load_invoice(db, first).due_date
    assert (
        post_form(admin_client, f"/admin/invoices/{first}/postpone", {"dueDays": "10"}).status_code
        == 302
    )
    # Ten days later, or the next business day after that (the store's calendar).
    after = load_invoice(db, first).due_date
    assert after == StoreSettings().postponed(before, 10)
    assert timedelta(days=10) <= after - before <= timedelta(days=14)
    too_far = post_form(admin_client, f"/admin/invoices/{first}/postpone", {"dueDays": "10"})
    assert too_far.status_code == 409

    cancel = post_form(admin_client, f"/admin/invoices/{second}/cancel", {"confirm": "1"})
    assert cancel.status_code == 302
    assert load_invoice(db, second).status == "Cancelled"
    assert load_account(db, seeded.account_id).balance_cents == -10_000


def test_invoice_filters_status_overdue_dates_and_order(
    admin_client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    late = seed(purchase_cents=30_000, installments=3, settled_days_ago=70)
    seed(purchase_cents=11_111)
    overdue = admin_client.get("/admin/invoices?status=Overdue")
    assert overdue.text.count('class="badge badge-overdue"') == 2
    assert "R$111.11" not in overdue.text
    by_order = admin_client.get("/admin/invoices?order=ORDER-2")
    assert "R$111.11" in by_order.text and "R$100.00" not in by_order.text
    assert "R$100.00" in admin_client.get(f"/admin/invoices?account={late.account_id}").text
    none = admin_client.get("/admin/invoices?due_to=2000-01-01")
    assert "No invoice matches." in none.text


def test_account_list_search_filter_sort(
    admin_client: FlaskClient, seed: Callable[..., Seeded]
) -> None:
    seed(email="alpha@shop.example", settled_days_ago=45)
    seed(email="beta@shop.example")
    found = admin_client.get("/admin/accounts?q=ALPHA")
    assert "alpha@shop.example" in found.text and "beta@shop.example" not in found.text
    assert "beta@shop.example" in admin_client.get("/admin/accounts?q=000.000.002-72").text
    overdue = admin_client.get("/admin/accounts?overdue=1")
    assert "alpha@shop.example" in overdue.text and "beta@shop.example" not in overdue.text
    ordered = admin_client.get("/admin/accounts?sort=email&dir=desc").text
    assert ordered.index("beta@shop.example") < ordered.index("alpha@shop.example")


def test_settings_form_saves_every_field(admin_client: FlaskClient, db: Database) -> None:
    form = {
        "currency": "usd",
        "tolerance_enabled": "1",
        "over_limit_review_enabled": "1",
        "max_preauthorization_growth_bps": "12.5%",
        "default_credit_cents": "250",
        "payment_terms": "7\n30, 60\n30; 60 90",
        "auto_settle_business_days": "3",
        "holiday_calendar": "ar",
        "daily_interest_rate": "0.001",
        "tax_rate": "0,05",
        "postponement_enabled": "1",
        "invoice_postponement_limit": "2",
        "max_postponement_days": "45",
        "reminders_before": "3 09:00, 1 8:30",
        "reminders_after": "2 10:00",
        "my_credits_enabled": "1",
        "payment_instructions": "Pay by bank transfer.",
        "time_zone": "America/Argentina/Buenos_Aires",
        "block_purchases_when_overdue": "1",
        "overdue_grace_days": "5",
        "pix_key": "+55 (11) 98765-4321",
        "pix_merchant_name": "Loja Exemplo",
        "pix_merchant_city": "São Paulo",
        "language": "es",
        "notify_invoice_paid": "1",
    }
    response = post_form(admin_client, "/admin/settings", form)
    assert response.status_code == 302, response.text
    with db.transaction() as session:
        saved = load_store_settings(session)
    assert saved.currency == "USD" and saved.holiday_calendar == "AR"
    assert saved.payment_terms == ((7,), (30, 60), (30, 60, 90))
    assert saved.max_preauthorization_growth_bps == 1250
    assert saved.default_credit_cents == 25_000 and saved.tax_rate == Decimal("0.05")
    assert saved.reminders_before[1] == Reminder(1, "08:30")
    assert saved.tolerance_enabled and saved.my_credits_enabled
    assert not saved.automatic_account_creation_enabled
    assert saved.time_zone == "America/Argentina/Buenos_Aires"
    assert not saved.due_dates_on_business_days  # its box was left unticked
    assert saved.block_purchases_when_overdue and saved.overdue_grace_days == 5
    assert (saved.pix_key, saved.pix_merchant_city) == ("+5511987654321", "São Paulo")
    assert (saved.language, saved.notify_invoice_issued, saved.notify_invoice_paid) == (
        "es",
        False,
        True,
    )
    page = admin_client.get("/admin/settings").text
    assert "30, 60, 90" in page and 'value="12.5%"' in page
    assert 'value="0.1%"' in page and 'value="5%"' in page  # daily interest and tax rate

    bad = post_form(admin_client, "/admin/settings", {**form, "payment_terms": "30\n60"})
    assert bad.status_code == 400
    assert 'id="f-payment_terms-note">two plans have 1 installment(s)' in bad.text
    unreadable = post_form(admin_client, "/admin/settings", {**form, "tax_rate": "five"})
    assert unreadable.status_code == 400
    assert (
        'id="f-tax_rate-note">five is not a rate: write a fraction such as 0.1 '
        "or a percentage such as 10%" in unreadable.text
    )
    zone = post_form(admin_client, "/admin/settings", {**form, "time_zone": "Buenos Aires"})
    assert zone.status_code == 400
    assert 'id="f-time_zone-note">Buenos Aires is not an IANA time zone' in zone.text
    with db.transaction() as session:
        assert load_store_settings(session).currency == "USD"  # nothing half-saved


def test_mark_as_paid_records_how_and_books_the_late_charges(
    admin_client: FlaskClient, db: Database, seed: Callable[..., Seeded], store: Callable[..., None]
) -> None:
    from connector.credit.charges import quote_invoice

    store(tax_rate=Decimal("0.02"), daily_interest_rate=Decimal("0.001"))
    [late] = seed(purchase_cents=100_000, settled_days_ago=40).invoice_ids
    invoice = load_invoice(db, late)
    with db.transaction() as session:
        settings = load_store_settings(session)
    today = settings.today(utcnow())
    quote = quote_invoice(invoice, settings, today)
    assert quote.charges.days_overdue >= 5 and quote.charges.late_fee_cents == 2_000
    page = admin_client.get(f"/admin/invoices/{late}")
    assert f'value="{quote.amount_due_cents // 100}.{quote.amount_due_cents % 100:02d}"' in (
        page.text
    )  # the amount received starts at the amount due
    path = f"/admin/invoices/{late}/pay"
    too_little = post_form(admin_client, path, {"amountReceived": "999.99", "confirmed": "1"})
    assert too_little.status_code == 400
    assert 'id="f-amountReceived-note">at least the invoice' in too_little.text
    assert load_invoice(db, late).status == "Opened"  # nothing half done
    bad_date = post_form(admin_client, path, {"paymentDate": "31/12/2026"})
    assert bad_date.status_code == 400 and 'id="f-paymentDate-note"' in bad_date.text
    paid = post_form(
        admin_client,
        path,
        {
            "paymentDate": today.isoformat(),
            "paymentMethod": "boleto",
            "paymentReference": "34191.79001",
            "amountReceived": "1020.00",  # the fee, no interest: the store waived it
            "confirmed": "1",
        },
    )
    assert paid.status_code == 302, paid.text
    invoice = load_invoice(db, late)
    assert (invoice.status, invoice.paid_on, invoice.payment_method) == ("Paid", today, "boleto")
    assert (invoice.received_cents, invoice.late_fee_cents, invoice.interest_cents) == (
        102_000,
        2_000,
        0,
    )
    with db.transaction() as session:
        origins = session.scalars(
            select(StatementEntry.origin).where(StatementEntry.invoice_id == late)
        ).all()
        assert find_drift(session) == []
    assert sorted(origins) == ["Invoice", "LateFee", "Payment"]
    shown = text_of(admin_client.get(f"/admin/invoices/{late}"))
    assert "34191.79001" in shown and "Boleto" in shown and "R$1,020.00" in shown


def test_a_holders_mails_language_and_opt_out(
    admin_client: FlaskClient, db: Database, seed: Callable[..., Seeded]
) -> None:
    seeded = seed(email="owner@shop.example")
    with db.transaction() as session:
        owner = session.scalars(select(Holder).where(Holder.account_id == seeded.account_id)).one()
    path = f"/admin/accounts/{seeded.account_id}/holders/{owner.id}/mail"
    assert (
        "The store&#39;s (Português)"
        in admin_client.get(f"/admin/accounts/{seeded.account_id}").text
    )
    saved = post_form(admin_client, path, {"language": "es", "opted_out": "1"})
    assert saved.status_code == 302
    with db.transaction() as session:
        holder = session.get(Holder, owner.id)
        assert holder is not None and holder.language == "es" and holder.mail_opt_out_at
    bad = post_form(admin_client, path, {"language": "fr"})
    assert bad.status_code == 400
    back = post_form(admin_client, path, {"language": ""})
    assert back.status_code == 302
    with db.transaction() as session:
        holder = session.get(Holder, owner.id)
        assert holder is not None and holder.language is None and holder.mail_opt_out_at is None


def test_the_invoice_page_offers_its_pix_code_when_the_store_takes_pix(
    admin_client: FlaskClient, seed: Callable[..., Seeded], store: Callable[..., None]
) -> None:
    [invoice] = seed(purchase_cents=12_345).invoice_ids
    assert "pix-code" not in admin_client.get(f"/admin/invoices/{invoice}").text
    store(pix_key="12.345.678/0001-95", pix_merchant_name="Loja", pix_merchant_city="Recife")
    page = admin_client.get(f"/admin/invoices/{invoice}").text
    assert "pix-code" in page and "<svg" in page
    assert "0114123456780001955204000053039865406123.45" in page  # the key, then the amount
