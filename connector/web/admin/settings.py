"""Store settings: every field of ``StoreSettings`` in one form, under its own name.

The form reads what staff type (amounts, rates as ``10%`` or ``0.1``, plans one per line,
reminders as "days time") into the settings' values; the service checks each field by its
rule and names the bad ones, which the page shows next to their fields.
"""

from __future__ import annotations

import re
from typing import Any

from flask import flash, redirect, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from connector import catalogs
from connector.access.principals import WRITE_ADMIN
from connector.context import get_db
from connector.credit.settings import LANGUAGES, Reminder, StoreSettings, update_store_settings
from connector.errors import ConnectorError
from connector.money import bps_percent_text, percent_text
from connector.web import i18n
from connector.web.admin.base import bp, needs
from connector.web.auth import done_by
from connector.web.forms import Form
from connector.web.messages import error_fields, error_message
from connector.web.pages import render, store_settings

CHECKBOXES = (
    "tolerance_enabled",
    "automatic_account_creation_enabled",
    "postponement_enabled",
    "my_credits_enabled",
    "over_limit_review_enabled",
    "due_dates_on_business_days",
    "block_purchases_when_overdue",
    "notify_invoice_issued",
    "notify_invoice_paid",
    "notify_dependents",
)
# Offered in the time zone field's list; any IANA name is accepted.
COMMON_ZONES = (
    "America/Sao_Paulo",
    "America/Manaus",
    "America/Fortaleza",
    "America/Argentina/Buenos_Aires",
    "America/Santiago",
    "America/Bogota",
    "America/Lima",
    "America/Mexico_City",
    "America/Montevideo",
    "America/Asuncion",
    "America/New_York",
    "Europe/Lisbon",
    "Europe/Madrid",
    "UTC",
)
_REMINDER = re.compile(r"^(\d{1,3})\s*(?:@|\s)\s*(\d{1,2}:\d{2})$")


def plans_text(plans: tuple[tuple[int, ...], ...]) -> str:
    return "\n".join(", ".join(str(day) for day in plan) for plan in plans)


def reminders_text(reminders: tuple[Reminder, ...]) -> str:
    return ", ".join(f"{r.days} {r.time_of_day}" for r in reminders)


def form_values(settings: StoreSettings) -> dict[str, str]:
    """The settings as the form shows them (rates as percentages with their sign, which read
    back unchanged; plans one per line)."""
    values = {name: "1" if getattr(settings, name) else "" for name in CHECKBOXES}
    values.update(
        currency=settings.currency,
        default_credit_cents=i18n.plain_amount(settings.default_credit_cents),
        invoice_postponement_limit=str(settings.invoice_postponement_limit),
        max_postponement_days=str(settings.max_postponement_days),
        max_preauthorization_growth_bps=bps_percent_text(settings.max_preauthorization_growth_bps),
        daily_interest_rate=percent_text(settings.daily_interest_rate),
        tax_rate=percent_text(settings.tax_rate),
        reminders_before=reminders_text(settings.reminders_before),
        reminders_after=reminders_text(settings.reminders_after),
        payment_terms=plans_text(settings.payment_terms),
        auto_settle_business_days=str(settings.auto_settle_business_days),
        holiday_calendar=settings.holiday_calendar or "",
        time_zone=settings.time_zone,
        overdue_grace_days=str(settings.overdue_grace_days),
        pix_key=settings.pix_key or "",
        pix_merchant_name=settings.pix_merchant_name,
        pix_merchant_city=settings.pix_merchant_city,
        language=settings.language,
        payment_instructions=settings.payment_instructions,
        store_name=settings.store_name,
        store_logo_url=settings.store_logo_url,
    )
    return values


def _plans(form: Form) -> list[list[int]] | None:
    plans = []
    for line in form.data.get("payment_terms", "").splitlines():
        days = [d for d in re.split(r"[\s,;/]+", line.strip()) if d]
        if not days:
            continue
        if not all(d.isdigit() for d in days):
            form.errors["payment_terms"] = i18n.gettext(
                "One plan per line, its due days separated by commas (30, 60, 90)."
            )
            return None
        plans.append([int(d) for d in days])
    return plans


def _reminders(name: str, form: Form) -> list[Reminder] | None:
    reminders = []
    for item in re.split(r"[,;\n]+", form.data.get(name, "")):
        item = item.strip()
        if not item:
            continue
        match = _REMINDER.match(item)
        if match is None:
            form.errors[name] = i18n.gettext(
                "Days and time of day, separated by commas: 3 09:00, 7 14:30."
            )
            return None
        hours, minutes = match.group(2).split(":")
        reminders.append(Reminder(int(match.group(1)), f"{int(hours):02d}:{minutes}"))
    return reminders


def changes_from_form(form: Form) -> dict[str, Any]:
    """The settings a submitted form asks for, read from its text (checked by the service)."""
    typed: dict[str, Any] = {
        "currency": form.text("currency", required=True, max_length=8),
        "default_credit_cents": form.cents("default_credit_cents"),
        "invoice_postponement_limit": form.integer("invoice_postponement_limit", 0, 100),
        "max_postponement_days": form.integer("max_postponement_days", 0, 3650),
        "auto_settle_business_days": form.integer("auto_settle_business_days", 0, 30),
        "max_preauthorization_growth_bps": form.rate_bps(
            "max_preauthorization_growth_bps", required=True, maximum_bps=100_000
        ),
        "daily_interest_rate": form.rate("daily_interest_rate"),
        "tax_rate": form.rate("tax_rate"),
        "holiday_calendar": form.text("holiday_calendar", max_length=8) or None,
        "time_zone": form.text("time_zone", required=True, max_length=64),
        "overdue_grace_days": form.integer("overdue_grace_days", 0, 365),
        "pix_key": form.text("pix_key", max_length=100) or None,
        "pix_merchant_name": form.text("pix_merchant_name", max_length=100),
        "pix_merchant_city": form.text("pix_merchant_city", max_length=100),
        "language": form.data.get("language", ""),
        "payment_instructions": form.data.get("payment_instructions", "").strip(),
        "store_name": form.text("store_name", max_length=100),
        "store_logo_url": form.text("store_logo_url", max_length=500),
        "payment_terms": _plans(form),
        "reminders_before": _reminders("reminders_before", form),
        "reminders_after": _reminders("reminders_after", form),
    }
    changes = {name: form.data.get(name) == "1" for name in CHECKBOXES}
    # A field the form could not read is left out: its error is shown, nothing is saved.
    changes.update({name: value for name, value in typed.items() if name not in form.errors})
    return changes


def _choices() -> dict[str, Any]:
    return {
        "zones": COMMON_ZONES,
        "languages_of_mail": [(code, catalogs.LANGUAGES[code]) for code in LANGUAGES],
    }


@bp.get("/settings")
def settings() -> tuple[str, int]:
    return render(
        "admin/settings.html", values=form_values(store_settings()), errors={}, **_choices()
    )


@bp.post("/settings")
@needs(WRITE_ADMIN)
def save_settings() -> WerkzeugResponse | tuple[str, int]:
    form = Form.from_request()
    changes = changes_from_form(form)
    try:
        form.check()
        get_db().run(lambda s: update_store_settings(s, changes, done_by=done_by()))
    except ConnectorError as error:
        values = dict(form.data)
        for name in CHECKBOXES:
            values[name] = "1" if form.data.get(name) == "1" else ""
        return render(
            "admin/settings.html",
            error.http_status,
            values=values,
            errors=error_fields(error),
            error=error_message(error),
            **_choices(),
        )
    flash(i18n.gettext("Settings saved."), "success")
    return redirect(url_for("admin.settings"))
